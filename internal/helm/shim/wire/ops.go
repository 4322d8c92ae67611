package wire

import (
	"maps"
	"reflect"
	"slices"
)

// Op is what the decoder knows of an op: the struct its options decode into,
// and whether it ever reaches a cluster. The shim's dispatch table pairs each
// with its handler and refuses to start when the two disagree.
type Op struct {
	Options reflect.Type
	Offline bool
}

func onCluster[O any]() Op { return Op{Options: reflect.TypeFor[O]()} }

func offline[O any]() Op { return Op{Options: reflect.TypeFor[O](), Offline: true} }

// Ops is every op of the protocol by name.
var Ops = map[string]Op{
	"install":      onCluster[InstallOptions](),
	"upgrade":      onCluster[UpgradeOptions](),
	"rollback":     onCluster[RollbackOptions](),
	"uninstall":    onCluster[UninstallOptions](),
	"test":         onCluster[TestOptions](),
	"markFailed":   onCluster[MarkFailedOptions](),
	"get":          onCluster[GetQuery](),
	"history":      onCluster[HistoryQuery](),
	"render":       offline[RenderOptions](),
	"loadChart":    offline[LoadChartOptions](),
	"stats":        offline[StatsOptions](),
	"diagnose":     offline[DiagnoseOptions](),
	"schema":       offline[SchemaOptions](),
	"login":        offline[LoginOptions](),
	"tags":         offline[TagsOptions](),
	"pull":         offline[PullOptions](),
	"digest":       offline[DigestQuery](),
	"verify":       offline[VerifyOptions](),
	"dependencies": offline[DependenciesOptions](),
	"resolve":      offline[ResolveOptions](),
}

// OpNames are the ops in order.
func OpNames() []string { return SortedKeys(Ops) }

// SortedKeys are a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
