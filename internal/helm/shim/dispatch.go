package main

import (
	"reflect"
	"strings"
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
}

// call is a decoded request: the envelope, its op's handler and options.
type call struct {
	req     *Request
	handler handler
	options any
}

func dispatch(st *callState, c *call) (any, error) {
	return c.handler.run(st, c.req, c.options)
}

func opNames() []string { return sortedKeys(opTable) }

// checkOp says what is wrong with the envelope's op and which op keys it
// holds, or nil. present lists the op keys of the request.
func checkOp(req *Request, present map[string]bool) error {
	list := strings.Join(opNames(), ", ")
	if req.Op == "" {
		return invalid("op", "missing; one of %s", list)
	}
	h, ok := opTable[req.Op]
	if !ok {
		return invalid("op", "unknown op %q; one of %s", req.Op, list)
	}
	for _, name := range opNames() {
		if present[name] && name != req.Op {
			return invalid(name, "not allowed in a %q request", req.Op)
		}
	}
	if !present[req.Op] {
		return invalid(req.Op, "missing: a %q request carries its options in %q", req.Op, req.Op)
	}
	if h.offline && req.Cluster != nil {
		return invalid("cluster", "not allowed: %s never talks to a cluster", req.Op)
	}
	if h.offline && req.Storage != nil {
		return invalid("storage", "not allowed: %s never reads release storage", req.Op)
	}
	if h.offline && req.Observe != nil {
		return invalid("observe", "not allowed: %s reports no releases", req.Op)
	}
	return nil
}
