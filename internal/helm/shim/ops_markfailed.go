package main

import (
	"fmt"

	"helm.sh/helm/v4/pkg/release/common"
)

// opMarkFailed records a stored revision as failed, with a description, the
// way Helm records a failed action: the controller uses it to unlock a
// release a crash left pending and to fail one whose health checks failed.
// The write goes through Helm's storage driver under the call's identity, so
// the observer reports it like any other.
func opMarkFailed(st *callState, req *Request, o *MarkFailedOptions) (*ActionResult, error) {
	if o.Description == "" {
		return nil, invalid("markFailed.description", "must say why the release failed")
	}
	ses, rel, err := openRevision(st, req, "markFailed", o.ReleaseName, o.Namespace, o.Version)
	if err != nil {
		return nil, err
	}
	if rel == nil || rel.Info == nil {
		return nil, fmt.Errorf("release %s has no info to record a status in", o.ReleaseName)
	}
	rel.SetStatus(common.StatusFailed, o.Description)
	if err := ses.cfg.Releases.Update(rel); err != nil {
		return nil, err
	}
	w, err := st.wire(rel)
	return &ActionResult{Release: w}, err
}
