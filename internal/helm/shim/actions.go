package main

// What the release actions share: the context Helm runs under, how install
// and upgrade prepare, and how an action's release becomes its result.

import (
	"context"
	"slices"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/postrenderer"
	rspb "helm.sh/helm/v4/pkg/release/v1"
)

// helmRunContext is the context given to Install/Upgrade.RunWithContext.
//
// Cancellation reaches Helm through the wait context instead (session
// waitOpts): every wait Helm does, for resources, hooks and deletions, ends
// when the call is cancelled, and Helm then records the failed release before
// returning. Handing the cancellable context to RunWithContext as well would
// make Helm return at once while its worker goroutine goes on writing to the
// cluster and to storage after the call has answered; and in Helm v4.3.1 a
// cancelled upgrade leaves that goroutine blocked for good on an unbuffered
// channel (pkg/action/upgrade.go, reportToPerformUpgrade).
func helmRunContext(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// applyPlan is what install and upgrade have checked and loaded before they act.
type applyPlan struct {
	field    string
	opts     *Rendering
	ses      *session
	chart    *chart.Chart
	timeout  time.Duration
	wait     kube.WaitStrategy
	crds     string
	renderer postrenderer.PostRenderer
	strategy action.PostRenderStrategy
}

// planApply checks the options install and upgrade share (crds defaulting
// to defaultCRDs), loads the chart and opens the session.
func planApply(st *callState, req *Request, field string, r *Rendering, a *Applying, defaultCRDs string) (*applyPlan, error) {
	if err := checkRelease(field, r.ReleaseName, r.Namespace); err != nil {
		return nil, err
	}
	p := &applyPlan{field: field, opts: r}
	var err error
	if p.timeout, p.wait, err = parseWaiting(field, a.Timeout, a.WaitStrategy); err != nil {
		return nil, err
	}
	if p.crds, err = parseCRDsPolicy(field+".crds", a.CRDs, defaultCRDs); err != nil {
		return nil, err
	}
	if p.chart, err = loadChart(field+".chart", r.Chart); err != nil {
		return nil, err
	}
	if p.ses, err = openSession(st, req, r.Namespace); err != nil {
		return nil, err
	}
	p.renderer, p.strategy, err = buildPostRenderer(&r.RenderSettings, field, r.Namespace, p.ses.kinds(p.chart), p.ses.scopes)
	return p, err
}

// hasCRDs says whether the chart, or a subchart, has anything in crds/.
func (p *applyPlan) hasCRDs() bool { return len(p.chart.CRDObjects()) > 0 }

// applyCRDs applies the chart's CRDs by the plan's policy before Helm runs.
func (p *applyPlan) applyCRDs(st *callState, ssa bool) error {
	return p.ses.applyCRDs(st, crdApply{
		field: p.field + ".chart", chart: p.opts.Chart, values: p.opts.Values, policy: p.crds,
		ssa: ssa, wait: p.wait, timeout: p.timeout,
	})
}

// actionResult is the result of an action that returns its release.
func actionResult(st *callState, reli any, runErr error) (*ActionResult, error) {
	out := &ActionResult{}
	if rel, err := toV1(reli); err == nil && rel != nil {
		w, werr := st.wire(rel)
		if werr != nil && runErr == nil {
			return out, werr
		}
		out.Release = w
	}
	return out, runErr
}

// hookFailedSince says whether a hook of these events failed after since:
// then the action's error is the hook's.
func hookFailedSince(rel *WireRelease, since time.Time, events ...string) bool {
	if rel == nil {
		return false
	}
	for _, h := range rel.Hooks {
		if h.LastRun == nil || h.LastRun.Phase != string(rspb.HookPhaseFailed) || h.LastRun.StartedAt == nil {
			continue
		}
		started, err := time.Parse(time.RFC3339Nano, *h.LastRun.StartedAt)
		if err != nil || started.Before(since) {
			continue
		}
		for _, e := range h.Events {
			if slices.Contains(events, e) {
				return true
			}
		}
	}
	return false
}
