package main

import (
	"time"

	"helm.sh/helm/v4/pkg/action"
)

func opUninstall(st *callState, req *Request, o *UninstallOptions) (*UninstallResult, error) {
	f := "uninstall"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	timeout, wait, err := parseWaiting(f, o.Timeout, o.WaitStrategy)
	if err != nil {
		return nil, err
	}
	propagation := o.DeletionPropagation
	switch propagation {
	case "":
		propagation = "background"
	case "background", "foreground", "orphan":
	default:
		return nil, invalid(f+".deletionPropagation", "must be background, foreground or orphan, got %q", propagation)
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	un := action.NewUninstall(ses.cfg)
	un.DisableHooks, un.KeepHistory, un.IgnoreNotFound = o.DisableHooks, o.KeepHistory, o.IgnoreNotFound
	un.WaitStrategy, un.WaitOptions, un.Timeout = wait, ses.waitOpts, timeout
	un.DeletionPropagation, un.Description = propagation, o.Description
	started := time.Now()
	resp, runErr := un.Run(o.ReleaseName)
	out := &UninstallResult{}
	if resp != nil {
		out.Info = resp.Info
		if rel, err := toV1(resp.Release); err == nil && rel != nil {
			w, werr := st.wire(rel)
			if werr != nil {
				return out, werr
			}
			out.Release = w
		}
	}
	if out.Release == nil {
		out.Release = st.obs.lastRelease()
	}
	if runErr != nil && hookFailedSince(out.Release, started, "pre-delete", "post-delete") {
		runErr = &shimError{code: CodeHookFailed, err: runErr}
	}
	return out, runErr
}
