package main

// The ops about the library itself: stats and diagnose.

import (
	"runtime"
	"time"
)

func opStats(_ *callState, _ *StatsOptions) (*StatsResult, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &StatsResult{
		CachedTargets:  targets.len(),
		InflightCalls:  int(calls.inflight.Load()),
		Goroutines:     runtime.NumGoroutine(),
		HeapAllocBytes: ms.HeapAlloc,
		HeapSysBytes:   ms.HeapSys,
		TotalCalls:     calls.total.Load(),
		GoVersion:      runtime.Version(),
		Requests: RequestCounts{
			Discovery:      requestCounts.discovery.Load(),
			OpenAPI:        requestCounts.openapi.Load(),
			Other:          requestCounts.other.Load(),
			DiscoveryCache: requestCounts.cacheHits.Load(),
			ByResult:       results.snapshot(),
		},
	}, nil
}

func opDiagnose(st *callState, o *DiagnoseOptions) (*DiagnoseResult, error) {
	if o.Panic != "" {
		panic(o.Panic)
	}
	out := &DiagnoseResult{}
	if o.Sleep == "" {
		return out, nil
	}
	d, err := time.ParseDuration(o.Sleep)
	if err != nil {
		return nil, invalid("diagnose.sleep", "not a duration: %q", o.Sleep)
	}
	start := time.Now()
	select {
	case <-time.After(d):
	case <-st.ctx.Done():
		err = st.ctx.Err()
	}
	out.SleptMS = float64(time.Since(start).Milliseconds())
	return out, err
}
