// Package integration holds whole-process tests: they build berthd and the
// berth CLI, run them as separate processes on loopback, and drive them the
// way users do — through the CLI, REST with plain net/http, and gRPC.
package integration
