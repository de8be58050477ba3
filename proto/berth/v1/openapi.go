package berthv1

import _ "embed"

// OpenAPI is the OpenAPI (Swagger 2.0) document of the REST API, generated
// from the protos and gateway.yaml by `make generate`.
//
//go:embed berth.swagger.json
var OpenAPI []byte
