package main

// The chart ops that never reach a cluster: render and loadChart.

import (
	"encoding/json"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/kube"
)

func opRender(st *callState, o *RenderOptions) (*RenderResult, error) {
	f := "render"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	var kv *common.KubeVersion
	if o.KubeVersion != "" {
		parsed, err := common.ParseKubeVersion(o.KubeVersion)
		if err != nil {
			return nil, invalid(f+".kubeVersion", "%v", err)
		}
		kv = parsed
	}
	ch, err := loadChart(f+".chart", o.Chart)
	if err != nil {
		return nil, err
	}
	kinds := func() []string { return append(kindsOfVersionSet(o.APIVersions), crdKinds(ch)...) }
	// No scope lookup: render has no cluster to say which kinds are
	// namespaced, so an owner is an invalid request here.
	pr, strategy, err := buildPostRenderer(&o.RenderSettings, f, o.Namespace, kinds, nil)
	if err != nil {
		return nil, err
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(st.log))
	in := action.NewInstall(cfg)
	in.DryRunStrategy = action.DryRunClient
	in.ReleaseName, in.Namespace = o.ReleaseName, o.Namespace
	in.DisableHooks = o.DisableHooks
	in.SkipSchemaValidation = o.DisableSchemaValidation
	in.IncludeCRDs, in.IsUpgrade = o.IncludeCRDs, o.IsUpgrade
	in.KubeVersion, in.APIVersions = kv, o.APIVersions
	in.PostRenderer, in.PostRenderStrategy = pr, strategy
	in.Devel = true
	in.WaitStrategy = kube.HookOnlyStrategy
	reli, err := in.RunWithContext(st.ctx, ch, values(o.Values))
	if err != nil {
		return nil, err
	}
	rel, err := toV1(reli)
	if err != nil {
		return nil, err
	}
	out := &RenderResult{Manifest: rel.Manifest, Hooks: []*WireHook{}}
	if rel.Info != nil {
		out.Notes = rel.Info.Notes
	}
	if !o.DisableHooks {
		for _, h := range rel.Hooks {
			out.Hooks = append(out.Hooks, wireHook(h))
		}
	}
	return out, nil
}

func opLoadChart(st *callState, o *LoadChartOptions) (*ChartInfo, error) {
	ch, err := loadChart("loadChart.path", o.Path)
	if err != nil {
		return nil, err
	}
	info := &ChartInfo{
		Metadata:            ch.Metadata,
		Values:              ch.Values,
		Dependencies:        []ChartDepInfo{},
		Subcharts:           []SubchartInfo{},
		MissingDependencies: []string{},
		CRDs:                []string{},
		Templates:           []string{},
	}
	if info.Values == nil {
		info.Values = map[string]any{}
	}
	loaded := map[string]bool{}
	for _, sub := range ch.Dependencies() {
		if sub.Metadata == nil {
			continue
		}
		info.Subcharts = append(info.Subcharts, SubchartInfo{
			Name: sub.Metadata.Name, Version: sub.Metadata.Version, AppVersion: sub.Metadata.AppVersion,
		})
		loaded[sub.Metadata.Name] = true
	}
	for _, d := range ch.Metadata.Dependencies {
		if d == nil {
			continue
		}
		info.Dependencies = append(info.Dependencies, ChartDepInfo{
			Name: d.Name, Version: d.Version, Repository: d.Repository,
			Condition: d.Condition, Tags: d.Tags, Alias: d.Alias,
		})
		if !loaded[d.Name] {
			info.MissingDependencies = append(info.MissingDependencies, d.Name)
		}
	}
	for _, crd := range ch.CRDObjects() {
		info.CRDs = append(info.CRDs, crd.Filename)
	}
	info.CRDObjects = chartCRDRefs(ch, st.log.Printf)
	for _, t := range ch.Templates {
		info.Templates = append(info.Templates, t.Name)
	}
	if len(ch.Schema) > 0 && json.Valid(ch.Schema) {
		info.Schema = ch.Schema
	}
	return info, nil
}
