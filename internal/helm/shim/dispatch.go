package main

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/helmward/helmward/internal/helm/shim/wire"
)

// handler is one op of the dispatch table: the struct its options decode
// into, the struct of its result, and whether it ever reaches a cluster. The
// schema op reads the same table, so what it reports is what runs.
type handler struct {
	offline bool
	options reflect.Type
	result  reflect.Type
	run     func(st *callState, req *Request, options any) (any, error)
}

func entry[O, R any](offline bool, run func(*callState, *Request, *O) (*R, error)) handler {
	return handler{
		offline: offline,
		options: reflect.TypeFor[O](),
		result:  reflect.TypeFor[R](),
		run: func(st *callState, req *Request, options any) (any, error) {
			res, err := run(st, req, options.(*O))
			if res == nil {
				return nil, err // not a typed nil, which would encode as a null result
			}
			return res, err
		},
	}
}

// onCluster is an op that reads or writes a cluster and its release storage.
func onCluster[O, R any](run func(*callState, *Request, *O) (*R, error)) handler {
	return entry(false, run)
}

// offline is an op that never reaches a cluster; its request carries neither
// cluster nor storage.
func offline[O, R any](run func(*callState, *O) (*R, error)) handler {
	return entry(true, func(st *callState, _ *Request, o *O) (*R, error) { return run(st, o) })
}

// opTable is the dispatch table. It is filled in init because the schema op
// reads it.
var opTable map[string]handler

func init() {
	opTable = map[string]handler{
		"install":      onCluster(opInstall),
		"upgrade":      onCluster(opUpgrade),
		"rollback":     onCluster(opRollback),
		"uninstall":    onCluster(opUninstall),
		"test":         onCluster(opTest),
		"markFailed":   onCluster(opMarkFailed),
		"get":          onCluster(opGet),
		"history":      onCluster(opHistory),
		"render":       offline(opRender),
		"loadChart":    offline(opLoadChart),
		"stats":        offline(opStats),
		"diagnose":     offline(opDiagnose),
		"schema":       offline(opSchema),
		"login":        offline(opLogin),
		"tags":         offline(opTags),
		"pull":         offline(opPull),
		"digest":       offline(opDigest),
		"verify":       offline(opVerify),
		"dependencies": offline(opDependencies),
		"resolve":      offline(opResolve),
	}
	if err := checkTables(opTable, wire.Ops); err != nil {
		panic(err)
	}
}

// call is a decoded request: the envelope, its op's handler and options.
type call struct {
	req     *Request
	handler handler
	options any
}

// decodeRequest decodes a request (package wire) and finds its op's handler.
func decodeRequest(data []byte) (*call, error) {
	c, err := wire.Decode(data)
	var bad *wire.InvalidError
	if errors.As(err, &bad) {
		return nil, &shimError{code: CodeInvalidRequest, field: bad.Field, err: bad.Err}
	}
	if err != nil {
		return nil, err
	}
	return &call{req: c.Request, handler: opTable[c.Request.Op], options: c.Options}, nil
}

func dispatch(st *callState, c *call) (any, error) {
	return c.handler.run(st, c.req, c.options)
}

func opNames() []string { return sortedKeys(opTable) }

// sortedKeys are a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// checkTables says how the dispatch table and the decoder's ops disagree, or
// nil: the same names, options types and offline flags.
func checkTables(table map[string]handler, ops map[string]wire.Op) error {
	if !slices.Equal(sortedKeys(table), wire.SortedKeys(ops)) {
		return fmt.Errorf("dispatch ops %v, wire ops %v", sortedKeys(table), wire.SortedKeys(ops))
	}
	for name, h := range table {
		if op := ops[name]; op.Options != h.options || op.Offline != h.offline {
			return fmt.Errorf("op %q: dispatch takes %v (offline %v), wire decodes %v (offline %v)",
				name, h.options, h.offline, op.Options, op.Offline)
		}
	}
	return nil
}
