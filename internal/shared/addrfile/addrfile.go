// Package addrfile writes the file in which berthd and the node agent say
// where they listen, so that scripts and tests started with port 0 can find
// them.
package addrfile

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/fixaroo/berth/internal/shared/atomicfile"
)

// Write replaces path, atomically, with addrs as one JSON object such as
// {"listen": "127.0.0.1:8443", "metrics": "127.0.0.1:9464"}, followed by a
// newline. The caller removes the file when it stops listening.
func Write(path string, addrs map[string]string) error {
	b, err := json.Marshal(addrs)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
