package main

import (
	"time"

	"helm.sh/helm/v4/pkg/action"
)

func opRollback(st *callState, req *Request, o *RollbackOptions) (*ActionResult, error) {
	f := "rollback"
	if err := checkRevision(f, o.ReleaseName, o.Namespace, o.Version); err != nil {
		return nil, err
	}
	timeout, wait, err := parseWaiting(f, o.Timeout, o.WaitStrategy)
	if err != nil {
		return nil, err
	}
	ssa, err := parseSSA(f+".serverSideApply", o.ServerSideApply)
	if err != nil {
		return nil, err
	}
	if err := notNegative(f+".maxHistory", o.MaxHistory); err != nil {
		return nil, err
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	rb := action.NewRollback(ses.cfg)
	rb.Version = o.Version
	rb.Timeout, rb.WaitStrategy, rb.WaitOptions, rb.WaitForJobs = timeout, wait, ses.waitOpts, o.WaitForJobs
	rb.DisableHooks, rb.ForceReplace = o.DisableHooks, o.Force
	rb.CleanupOnFail, rb.MaxHistory = o.CleanupOnFail, o.MaxHistory
	rb.ServerSideApply = ssa
	rb.ForceConflicts = boolOr(o.ForceConflicts, ssa != "false")
	rb.Description = o.Description
	started := time.Now()
	runErr := rb.Run(o.ReleaseName)
	// Rollback returns no release: the last one it stored is the result.
	res := &ActionResult{Release: st.obs.lastRelease()}
	if runErr != nil && hookFailedSince(res.Release, started, "pre-rollback", "post-rollback") {
		runErr = &shimError{code: CodeHookFailed, err: runErr}
	}
	return res, runErr
}
