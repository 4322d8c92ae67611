package main

// The request types live in package wire, which imports nothing but the
// standard library, so its decoder can be fuzzed without building the Helm SDK.

import "github.com/helmward/helmward/internal/helm/shim/wire"

type (
	Request              = wire.Request
	ClusterSpec          = wire.ClusterSpec
	ServiceAccountRef    = wire.ServiceAccountRef
	StorageSpec          = wire.StorageSpec
	ObserveSpec          = wire.ObserveSpec
	PostRendererSpec     = wire.PostRendererSpec
	KustomizeSpec        = wire.KustomizeSpec
	PatchSpec            = wire.PatchSpec
	SelectorSpec         = wire.SelectorSpec
	ImageSpec            = wire.ImageSpec
	CommonMetadata       = wire.CommonMetadata
	Origin               = wire.Origin
	Owner                = wire.Owner
	RenderSettings       = wire.RenderSettings
	Rendering            = wire.Rendering
	Applying             = wire.Applying
	InstallOptions       = wire.InstallOptions
	UpgradeOptions       = wire.UpgradeOptions
	RollbackOptions      = wire.RollbackOptions
	UninstallOptions     = wire.UninstallOptions
	TestFilter           = wire.TestFilter
	TestOptions          = wire.TestOptions
	GetQuery             = wire.GetQuery
	MarkFailedOptions    = wire.MarkFailedOptions
	HistoryQuery         = wire.HistoryQuery
	RenderOptions        = wire.RenderOptions
	LoadChartOptions     = wire.LoadChartOptions
	StatsOptions         = wire.StatsOptions
	DiagnoseOptions      = wire.DiagnoseOptions
	DigestQuery          = wire.DigestQuery
	DependencyRepository = wire.DependencyRepository
	DependencyRegistry   = wire.DependencyRegistry
	DependenciesOptions  = wire.DependenciesOptions
	RegistryAccess       = wire.RegistryAccess
	LoginOptions         = wire.LoginOptions
	TagsOptions          = wire.TagsOptions
	PullOptions          = wire.PullOptions
	ResolveOptions       = wire.ResolveOptions
	VerifyOptions        = wire.VerifyOptions
	SchemaOptions        = wire.SchemaOptions
)
