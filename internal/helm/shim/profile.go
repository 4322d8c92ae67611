package main

import (
	"os"
	"runtime/pprof"
	"strconv"
	"time"
)

// A measuring aid, off by default: HELMWARD_SHIM_CPUPROFILE=<file> profiles
// the engine's Go CPU from load for HELMWARD_SHIM_CPUPROFILE_SECONDS (60) and
// writes a pprof profile there. The host process never tells the library it
// is exiting, so the profile ends on a timer.
func init() {
	path := os.Getenv("HELMWARD_SHIM_CPUPROFILE")
	if path == "" {
		return
	}
	seconds, err := strconv.Atoi(os.Getenv("HELMWARD_SHIM_CPUPROFILE_SECONDS"))
	if err != nil || seconds <= 0 {
		seconds = 60
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return
	}
	time.AfterFunc(time.Duration(seconds)*time.Second, func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	})
}
