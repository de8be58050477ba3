package agent

import (
	"context"
	"net"
	"os"
	"path/filepath"

	"github.com/fixaroo/berth/internal/shared/addrfile"
)

// AddrFile, in the data directory, holds the addresses the agent listens
// on, as JSON {"http": "...", "https": "...", "metrics": "..."}, once its
// edge listens.
const AddrFile = "agent.addr"

// writeAddrFile writes AddrFile once the sites' edge listens, and removes
// it when ctx ends. Sites without an edge write none.
func writeAddrFile(ctx context.Context, dataDir string, sites Sites, metrics net.Addr) error {
	addrs := sites.Listening(ctx)
	if addrs == nil {
		return nil
	}
	if metrics != nil {
		addrs["metrics"] = metrics.String()
	}
	path := filepath.Join(dataDir, AddrFile)
	if err := addrfile.Write(path, addrs); err != nil {
		return err
	}
	<-ctx.Done()
	os.Remove(path)
	return nil
}
