//go:build !linux

package client

// diskFreeMiB is not implemented here: berth-agent runs on Linux.
func diskFreeMiB(string) int64 { return 0 }
