// Package api implements the public Berth v1 gRPC services (berth.v1) on
// top of the store. The node contract is served next to it by package
// agentapi.
//
// Every call passes an rpc.Gate: metrics, then authentication, then the
// authorization rule of the method from this package's one table, Rules in
// authz.go (a method with no rule is denied), then the handler. Mutations
// append their audit event inside the same store transaction as the change;
// failed mutations and denied calls are audited afterwards.
//
// Errors leave the package as gRPC statuses made by one function,
// rpc.ToStatus; the REST gateway maps those codes to HTTP statuses.
package api
