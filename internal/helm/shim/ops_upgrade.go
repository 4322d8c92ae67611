package main

import "helm.sh/helm/v4/pkg/action"

// opUpgrade runs helm upgrade. Helm's upgrade never touches crds/, so the
// engine applies them first by the CRDs policy: Skip (the default), Create
// (the missing CRDs) or CreateReplace (the existing ones too).
func opUpgrade(st *callState, req *Request, o *UpgradeOptions) (*ActionResult, error) {
	f := "upgrade"
	ssa, err := parseSSA(f+".serverSideApply", o.ServerSideApply)
	if err != nil {
		return nil, err
	}
	if err := notNegative(f+".maxHistory", o.MaxHistory); err != nil {
		return nil, err
	}
	p, err := planApply(st, req, f, &o.Rendering, &o.Applying, crdsSkip)
	if err != nil {
		return nil, err
	}
	ses := p.ses
	if p.crds != crdsSkip && p.hasCRDs() {
		if crdSSA, ok := ses.upgradeSSA(st, o.ReleaseName, ssa); ok {
			if err := p.applyCRDs(st, crdSSA); err != nil {
				return nil, err
			}
		}
	}
	if err := ses.presetCapabilities(); err != nil {
		return nil, err
	}
	up := action.NewUpgrade(ses.cfg)
	up.Namespace = o.Namespace
	up.Timeout, up.WaitStrategy, up.WaitOptions, up.WaitForJobs = p.timeout, p.wait, ses.waitOpts, o.WaitForJobs
	up.DisableHooks = o.DisableHooks
	up.DisableOpenAPIValidation = o.DisableOpenAPIValidation
	up.SkipSchemaValidation = o.DisableSchemaValidation
	up.ForceReplace = o.Force
	up.ResetValues, up.ReuseValues, up.ResetThenReuseValues = o.ResetValues, o.ReuseValues, o.ResetThenReuseValues
	up.CleanupOnFail, up.MaxHistory = o.CleanupOnFail, o.MaxHistory
	up.ServerSideApply = ssa
	up.ForceConflicts = boolOr(o.ForceConflicts, ssa != "false")
	up.TakeOwnership = o.TakeOwnership
	up.Description, up.Labels = o.Description, o.Labels
	up.PostRenderer, up.PostRenderStrategy = p.renderer, p.strategy
	up.Devel = true
	reli, runErr := up.RunWithContext(helmRunContext(st.ctx), o.ReleaseName, p.chart, values(o.Values))
	return actionResult(st, reli, runErr)
}

// upgradeSSA is whether an upgrade applies with server-side apply, decided
// as Helm's upgrade does: auto follows the last release. It is false when
// the upgrade cannot run (no release, or one in progress): Helm's action then
// reports why, and nothing is applied before it.
func (s *session) upgradeSSA(st *callState, name, mode string) (ssa, ok bool) {
	last, err := s.cfg.Releases.Last(name)
	if err != nil {
		st.log.Printf("CustomResourceDefinitions not applied: no last release of %s: %v", name, err)
		return false, false
	}
	rel, err := toV1(last)
	if err != nil || rel == nil || rel.Info == nil || rel.Info.Status.IsPending() {
		st.log.Printf("CustomResourceDefinitions not applied: the last release of %s is pending or unreadable", name)
		return false, false
	}
	if mode == "auto" {
		return rel.ApplyMethod == "ssa", true
	}
	return mode == "true", true
}
