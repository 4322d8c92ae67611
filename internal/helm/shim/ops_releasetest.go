package main

// helm test: run a release's test hooks and report each.

import (
	"fmt"
	"slices"
	"sort"

	"helm.sh/helm/v4/pkg/action"
	rspb "helm.sh/helm/v4/pkg/release/v1"
)

func opTest(st *callState, req *Request, o *TestOptions) (*TestResult, error) {
	f := "test"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	timeout, err := parseTimeout(f+".timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	filters := map[string][]string{}
	for i, flt := range o.Filters {
		if flt.Name == "" {
			return nil, invalid(fmt.Sprintf("%s.filters[%d].name", f, i), "must not be empty")
		}
		key := action.IncludeNameFilter
		if flt.Exclude {
			key = action.ExcludeNameFilter
		}
		filters[key] = append(filters[key], flt.Name)
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	rt := action.NewReleaseTesting(ses.cfg)
	rt.Timeout, rt.WaitOptions, rt.Namespace, rt.Filters = timeout, ses.waitOpts, o.Namespace, filters
	reli, shutdown, runErr := rt.Run(o.ReleaseName)
	out := &TestResult{Tests: []TestHookResult{}}
	// The shutdown applies the hook delete policies; it runs whatever happened.
	if shutdown != nil {
		if serr := shutdown(); serr != nil {
			out.ShutdownError = serr.Error()
			st.log.Printf("test shutdown (hook delete policies) failed: %v", serr)
		}
	}
	rel, _ := toV1(reli)
	if rel == nil {
		return out, runErr
	}
	w, werr := st.wire(rel)
	if werr != nil {
		return out, werr
	}
	out.Release = w
	failed := false
	for _, h := range testsRun(rel, filters) {
		out.Tests = append(out.Tests, TestHookResult{
			Name: h.Name, Kind: h.Kind, Phase: string(h.LastRun.Phase),
			StartedAt: wireTime(h.LastRun.StartedAt), CompletedAt: wireTime(h.LastRun.CompletedAt),
		})
		failed = failed || h.LastRun.Phase == rspb.HookPhaseFailed
	}
	if runErr != nil && failed {
		runErr = &shimError{code: CodeHookFailed, err: runErr}
	}
	return out, runErr
}

// testsRun are the test hooks the filters select, in the order Helm ran
// them: by weight, then name.
func testsRun(rel *rspb.Release, filters map[string][]string) []*rspb.Hook {
	ran := slices.Clone(rel.Hooks)
	sort.SliceStable(ran, func(i, j int) bool {
		if ran[i].Weight != ran[j].Weight {
			return ran[i].Weight < ran[j].Weight
		}
		return ran[i].Name < ran[j].Name
	})
	return slices.DeleteFunc(ran, func(h *rspb.Hook) bool {
		return !slices.Contains(h.Events, rspb.HookTest) || !selectedByFilters(h.Name, filters)
	})
}

// selectedByFilters mirrors how Helm's release testing applies name filters:
// exclusions first, then, if any inclusions are given, only those.
func selectedByFilters(name string, filters map[string][]string) bool {
	if slices.Contains(filters[action.ExcludeNameFilter], name) {
		return false
	}
	if inc := filters[action.IncludeNameFilter]; len(inc) > 0 {
		return slices.Contains(inc, name)
	}
	return true
}
