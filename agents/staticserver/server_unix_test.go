//go:build unix

package staticserver

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
)

// A FIFO in a release must not hang the request that names it.
func TestFIFO(t *testing.T) {
	root := newSite(t)
	if err := syscall.Mkfifo(filepath.Join(root, "releases", "r1", "pipe.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, root)
	if got := do(t, http.MethodGet, srv.URL+"/pipe.txt", nil, nil); got.Status != http.StatusNotFound {
		t.Errorf("GET /pipe.txt = %d, want 404", got.Status)
	}
}
