package main

import "helm.sh/helm/v4/pkg/action"

// opInstall runs helm install. Its CRDs policy defaults to Create, where
// Helm's install creates the chart's CRDs itself; with CreateReplace the
// engine applies them first and Helm skips them.
func opInstall(st *callState, req *Request, o *InstallOptions) (*ActionResult, error) {
	p, err := planApply(st, req, "install", &o.Rendering, &o.Applying, crdsCreate)
	if err != nil {
		return nil, err
	}
	ses := p.ses
	ssa := boolOr(o.ServerSideApply, true)
	installsCRDs := p.crds == crdsCreate && p.hasCRDs()
	if installsCRDs {
		ses.awaitHelmCRDs(st, p.chart, p.timeout)
	} else if err := ses.presetCapabilities(); err != nil {
		return nil, err
	}
	if p.crds == crdsCreateReplace && p.hasCRDs() {
		if err := p.applyCRDs(st, ssa); err != nil {
			return nil, err
		}
	}
	in := action.NewInstall(ses.cfg)
	in.ReleaseName, in.Namespace = o.ReleaseName, o.Namespace
	in.Timeout, in.WaitStrategy, in.WaitOptions, in.WaitForJobs = p.timeout, p.wait, ses.waitOpts, o.WaitForJobs
	in.DisableHooks = o.DisableHooks
	in.DisableOpenAPIValidation = o.DisableOpenAPIValidation
	in.SkipSchemaValidation = o.DisableSchemaValidation
	in.Replace, in.CreateNamespace, in.SkipCRDs = o.Replace, o.CreateNamespace, !installsCRDs
	in.ServerSideApply = ssa
	in.ForceConflicts = boolOr(o.ForceConflicts, in.ServerSideApply)
	in.TakeOwnership = o.TakeOwnership
	in.Description, in.Labels = o.Description, o.Labels
	in.PostRenderer, in.PostRenderStrategy = p.renderer, p.strategy
	in.Devel = true
	reli, runErr := in.RunWithContext(helmRunContext(st.ctx), p.chart, values(o.Values))
	if installsCRDs {
		// Helm refreshed discovery for the new CRDs; keep its view.
		ses.t.storeCapabilities(ses.cfg.Capabilities)
	}
	return actionResult(st, reli, runErr)
}
