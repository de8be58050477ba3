// Package api implements the Berth v1 gRPC services on top of the store.
//
// Every call passes the interceptors in interceptors.go: metrics, then
// authentication, then the authorization rule of the method from the one
// table in authz.go (a method with no rule is denied), then the handler.
// Mutations append their audit event inside the same store transaction as
// the change; failed mutations and denied calls are audited afterwards.
//
// Errors leave the package as gRPC statuses made by one function, toStatus in
// errors.go; the REST gateway maps those codes to HTTP statuses.
package api
