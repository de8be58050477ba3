package rpc

import "fmt"

// Access is who may call a method at all. Finer rules (a client principal
// reads only its own client's resources, a node only its own sites) are
// applied by the handlers, which answer NotFound or PermissionDenied for
// what the caller may not see.
type Access int

const (
	// Public: no credential needed (login, a node's join).
	Public Access = iota + 1
	// Authenticated: any valid admin or client credential.
	Authenticated
	// Admin: agency ops only.
	Admin
	// AdminOrClient: admins, and client principals scoped to their client.
	AdminOrClient
	// Node: node agents, authenticated by their client certificate.
	Node
)

// Rule is the authorization rule of one method.
type Rule struct {
	Access Access
	// Mutates: the call changes state, so it is always audited.
	Mutates bool
}

// Rules maps full method names ("/berth.v1.SiteService/GetSite") to their
// rule.
type Rules map[string]Rule

// InfrastructureRules are the rules of the infrastructure services, which
// are public: reflection describes the same schema as the public OpenAPI
// document, and health tells load balancers nothing more than /readyz.
func InfrastructureRules() Rules {
	r := Rules{}
	for _, m := range []string{
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
		"/grpc.health.v1.Health/Check",
		"/grpc.health.v1.Health/List",
		"/grpc.health.v1.Health/Watch",
	} {
		r[m] = Rule{Access: Public}
	}
	return r
}

// merge returns the union of tables; a method in two tables is a wiring
// mistake.
func merge(tables []Rules) (Rules, error) {
	all := Rules{}
	for _, t := range tables {
		for m, r := range t {
			if _, dup := all[m]; dup {
				return nil, fmt.Errorf("rpc: method %s has two authorization rules", m)
			}
			all[m] = r
		}
	}
	return all, nil
}
