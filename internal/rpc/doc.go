// Package rpc is the gRPC plumbing berthd's services share: the public
// API (package api) and the node-facing AgentService (package agentapi)
// are served by one server through one [Gate].
//
// Every call passes the Gate's interceptors: metrics, then authentication
// (a bearer token, or a node's client certificate verified by the TLS
// layer), then the authorization [Rule] of the method (a method without a
// rule is denied), then the handler. Each service package owns the rules of
// its methods and hands them to the Gate; a method has exactly one rule.
// Mutations append their audit event inside the same store transaction as
// the change ([AuditInTx]); failed mutations and denied calls are audited
// by the Gate afterwards.
//
// Errors leave the handlers as gRPC statuses made by one function,
// [ToStatus]; the REST gateway maps those codes to HTTP statuses.
package rpc
