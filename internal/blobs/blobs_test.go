package blobs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fixaroo/berth/internal/blobs"
)

func newStore(t *testing.T, max int64) (*blobs.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := blobs.New(blobs.Options{Dir: dir, MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// files lists the names in the store's sha256 directory.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteOpenRemove(t *testing.T) {
	s, dir := newStore(t, 0)
	data := []byte("hello, bundle")
	digest, size, err := s.Write(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if digest != sum(data) || size != int64(len(data)) {
		t.Fatalf("Write = %s, %d; want %s, %d", digest, size, sum(data), len(data))
	}
	s.Unpin(digest)
	if got := files(t, dir); len(got) != 1 || got[0] != digest {
		t.Errorf("files after Write = %v, want [%s]", got, digest)
	}
	fi, err := os.Stat(filepath.Join(dir, "sha256", digest))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("blob mode %v, want 0600", fi.Mode().Perm())
	}

	// The same content again is stored once.
	again, _, err := s.Write(bytes.NewReader(data))
	if err != nil || again != digest {
		t.Fatalf("second Write = %s, %v", again, err)
	}
	s.Unpin(again)
	if got := files(t, dir); len(got) != 1 {
		t.Errorf("files after second Write = %v", got)
	}

	rc, err := s.Open(digest)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Open read %q, %v", got, err)
	}
	if ok, err := s.Exists(digest); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}

	if err := s.Remove(digest); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(digest); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := s.Open(digest); !errors.Is(err, blobs.ErrNotFound) {
		t.Errorf("Open after Remove: %v, want ErrNotFound", err)
	}
	if ok, err := s.Exists(digest); ok || err != nil {
		t.Errorf("Exists after Remove = %v, %v", ok, err)
	}
}

func TestWriteTooLarge(t *testing.T) {
	s, dir := newStore(t, 10)
	if _, _, err := s.Write(strings.NewReader("0123456789")); err != nil {
		t.Fatalf("exactly MaxBytes: %v", err)
	}
	_, _, err := s.Write(strings.NewReader("0123456789A"))
	if !errors.Is(err, blobs.ErrTooLarge) || !strings.Contains(err.Error(), "10 bytes") {
		t.Fatalf("over MaxBytes: %v, want ErrTooLarge naming the limit", err)
	}
	if got := files(t, dir); len(got) != 1 {
		t.Errorf("files after a too-large write = %v, want only the first blob", got)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("connection reset")
	}
	r.n--
	return copy(p, "data"), nil
}

func TestWriteFailureLeavesNothing(t *testing.T) {
	s, dir := newStore(t, 0)
	if _, _, err := s.Write(&failingReader{n: 3}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Write from a failing reader: %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files after a failed write = %v, want none", got)
	}
}

func TestInvalidDigest(t *testing.T) {
	s, _ := newStore(t, 0)
	for _, d := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("a", 63), strings.Repeat("g", 64), strings.Repeat("a", 63) + "/"} {
		if _, err := s.Open(d); !errors.Is(err, blobs.ErrInvalidDigest) {
			t.Errorf("Open(%q): %v, want ErrInvalidDigest", d, err)
		}
		if err := s.Remove(d); !errors.Is(err, blobs.ErrInvalidDigest) {
			t.Errorf("Remove(%q): %v, want ErrInvalidDigest", d, err)
		}
		if blobs.ValidDigest(d) {
			t.Errorf("ValidDigest(%q) = true", d)
		}
	}
	if !blobs.ValidDigest(sum(nil)) {
		t.Error("ValidDigest of a real digest = false")
	}
}

func TestRemoveUnusedRespectsPinsAndUse(t *testing.T) {
	s, _ := newStore(t, 0)
	digest, _, err := s.Write(strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	unused := func() (bool, error) { return false, nil }
	if removed, err := s.RemoveUnused(digest, unused); removed || err != nil {
		t.Fatalf("RemoveUnused of a pinned blob = %v, %v; want kept", removed, err)
	}
	s.Unpin(digest)
	if removed, err := s.RemoveUnused(digest, func() (bool, error) { return true, nil }); removed || err != nil {
		t.Fatalf("RemoveUnused of a used blob = %v, %v; want kept", removed, err)
	}
	if removed, err := s.RemoveUnused(digest, unused); !removed || err != nil {
		t.Fatalf("RemoveUnused of an unused blob = %v, %v; want removed", removed, err)
	}
	if ok, _ := s.Exists(digest); ok {
		t.Error("blob still exists")
	}
}

func TestNewRemovesInterruptedWrites(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o700); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "sha256", ".tmp-123")
	if err := os.WriteFile(tmp, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.New(blobs.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("interrupted write still there: %v", err)
	}
}

// TestList lists stored blobs with their sizes, and neither a write in
// progress nor a file that is not a blob.
func TestList(t *testing.T) {
	s, dir := newStore(t, 0)
	want := map[string]int64{}
	for _, data := range []string{"one bundle", "another, longer bundle"} {
		digest, size, err := s.Write(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		s.Unpin(digest)
		want[digest] = size
	}
	for _, name := range []string{".tmp-123", "README", strings.Repeat("A", 64)} {
		if err := os.WriteFile(filepath.Join(dir, "sha256", name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, b := range list {
		got[b.Digest] = b.Size
	}
	if !maps.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}
