//go:build unix

package cli

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenBundleRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openBundle(dir); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("openBundle: %v", err)
	}
}
