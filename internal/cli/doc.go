// Package cli implements the berth command-line client: its command tree,
// configuration (flags, BERTH_* environment, config file), the TLS gRPC
// connection to berthd, and the table and JSON output.
//
// Run is the whole program; cmd/berth only wires it to the process. It keeps
// no global state, so tests call it in-process against a real berthd:
//
//	code := cli.Run(ctx, cli.Stdio{In: in, Out: &out, Err: &errOut},
//		[]string{"--server", addr, "--ca", caFile, "--token", token, "--config", cfgFile, "site", "list"})
package cli
