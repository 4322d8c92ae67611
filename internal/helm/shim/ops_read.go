package main

// The reads of release storage: one revision, or the history.

import (
	"sort"

	"helm.sh/helm/v4/pkg/action"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/release"
	rspb "helm.sh/helm/v4/pkg/release/v1"
)

// opGet reads one stored revision, the latest when version is 0. This is
// Helm's Get and not its Status, which also fetches every live object of the
// manifest and their pods: the binding reads live objects itself.
func opGet(st *callState, req *Request, o *GetQuery) (*ReleaseResult, error) {
	_, rel, err := openRevision(st, req, "get", o.ReleaseName, o.Namespace, o.Version)
	if err != nil {
		return nil, err
	}
	w, err := st.wire(rel)
	if err != nil {
		return nil, err
	}
	out := &ReleaseResult{Release: w}
	if o.AllValues && rel.Chart != nil {
		if out.ComputedValues, err = chartutil.CoalesceValues(rel.Chart, rel.Config); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// openRevision checks the name of a stored revision (version 0 the latest),
// opens a session on its storage and reads it.
func openRevision(st *callState, req *Request, field, name, namespace string, version int) (*session, *rspb.Release, error) {
	if err := checkRevision(field, name, namespace, version); err != nil {
		return nil, nil, err
	}
	ses, err := openSession(st, req, namespace)
	if err != nil {
		return nil, nil, err
	}
	// Storage is read directly, not through Helm's Get: that first asks the API server
	// for its version (a reachability check), a second request for every read.
	var reli release.Releaser
	if version <= 0 {
		reli, err = ses.cfg.Releases.Last(name)
	} else {
		reli, err = ses.cfg.Releases.Get(name, version)
	}
	if err != nil {
		return nil, nil, err
	}
	rel, err := toV1(reli)
	return ses, rel, err
}

func opHistory(st *callState, req *Request, o *HistoryQuery) (*HistoryResult, error) {
	f := "history"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	if err := notNegative(f+".max", o.Max); err != nil {
		return nil, err
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	list, err := action.NewHistory(ses.cfg).Run(o.ReleaseName)
	if err != nil {
		return nil, err
	}
	out := &HistoryResult{Releases: []*WireRelease{}}
	for _, reli := range list {
		rel, err := toV1(reli)
		if err != nil {
			return nil, err
		}
		w, err := st.wire(rel)
		if err != nil {
			return nil, err
		}
		out.Releases = append(out.Releases, w)
	}
	sort.Slice(out.Releases, func(i, j int) bool { return out.Releases[i].Version < out.Releases[j].Version })
	if o.Max > 0 && len(out.Releases) > o.Max {
		out.Releases = out.Releases[len(out.Releases)-o.Max:]
	}
	return out, nil
}
