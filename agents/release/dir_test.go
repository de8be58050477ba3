package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/shared/bundle"
	"github.com/google/go-cmp/cmp"
)

// install installs a release with a single index.html holding body.
func install(t *testing.T, d Dir, id, body string) {
	t.Helper()
	if err := d.Install(t.Context(), id, bytes.NewReader(targz(t, map[string]string{"index.html": body})), bundle.Limits{}); err != nil {
		t.Fatalf("Install(%q) error = %v", id, err)
	}
}

func list(t *testing.T, d Dir) []string {
	t.Helper()
	ids, err := d.List()
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	return ids
}

func current(t *testing.T, d Dir) string {
	t.Helper()
	id, err := d.Current()
	if err != nil {
		t.Fatalf("Current() error = %v", err)
	}
	return id
}

func TestDirLifecycle(t *testing.T) {
	d := Dir{Root: filepath.Join(t.TempDir(), "site")}
	if diff := cmp.Diff([]string(nil), list(t, d)); diff != "" {
		t.Errorf("List() of a new site mismatch (-want +got):\n%s", diff)
	}
	if got := current(t, d); got != "" {
		t.Errorf("Current() of a new site = %q, want \"\"", got)
	}

	sha := strings.Repeat("ab", 32)
	install(t, d, "rel_01jd2", "two")
	install(t, d, sha, "sha")
	if diff := cmp.Diff([]string{sha, "rel_01jd2"}, list(t, d)); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}

	if err := d.Activate("rel_01jd2"); err != nil {
		t.Fatalf("Activate() error = %v", err)
	}
	if got := current(t, d); got != "rel_01jd2" {
		t.Errorf("Current() = %q, want rel_01jd2", got)
	}
	if target, err := os.Readlink(filepath.Join(d.Root, "current")); err != nil || target != "releases/rel_01jd2" {
		t.Errorf("current -> %q, %v; want a relative link to releases/rel_01jd2", target, err)
	}
	if b, err := os.ReadFile(filepath.Join(d.Root, "current", "index.html")); err != nil || string(b) != "two" {
		t.Errorf("current/index.html = %q, %v; want \"two\"", b, err)
	}

	// Rollback is Activate with another installed id.
	if err := d.Activate(sha); err != nil {
		t.Fatalf("Activate() error = %v", err)
	}
	if got := current(t, d); got != sha {
		t.Errorf("Current() = %q, want %q", got, sha)
	}
	if diff := cmp.Diff([]string{"current", "releases"}, names(t, d.Root)); diff != "" {
		t.Errorf("root holds leftovers (-want +got):\n%s", diff)
	}

	if err := d.Remove(sha); !errors.Is(err, ErrCurrent) {
		t.Errorf("Remove(current) error = %v, want ErrCurrent", err)
	}
	if err := d.Remove("rel_01jd2"); err != nil {
		t.Errorf("Remove() error = %v", err)
	}
	if err := d.Remove("rel_01jd2"); err != nil {
		t.Errorf("Remove() of a removed release error = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{sha}, list(t, d)); diff != "" {
		t.Errorf("List() after Remove mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{sha}, names(t, filepath.Join(d.Root, "releases"))); diff != "" {
		t.Errorf("releases/ holds leftovers (-want +got):\n%s", diff)
	}
	if err := d.Activate("rel_01jd2"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Activate(removed) error = %v, want ErrNotInstalled", err)
	}
}

func TestInstallIsIdempotent(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	install(t, d, "rel_1", "first")
	// The second Install must not even read its input.
	if err := d.Install(t.Context(), "rel_1", failReader{t}, bundle.Limits{}); err != nil {
		t.Fatalf("second Install() error = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(d.Root, "releases", "rel_1", "index.html")); err != nil || string(b) != "first" {
		t.Errorf("index.html = %q, %v; want the first install's", b, err)
	}
}

type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("Read called, want the input left alone")
	return 0, errors.New("unexpected read")
}

func TestInstallFailureLeavesNothing(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	err := d.Install(t.Context(), "rel_1", bytes.NewReader(targz(t, map[string]string{"ok.html": "x", "../evil": "x"})), bundle.Limits{})
	if !errors.Is(err, bundle.ErrUnsafe) {
		t.Fatalf("Install() error = %v, want ErrUnsafe", err)
	}
	if want := `install release rel_1: entry "../evil": path leaves the release`; err.Error() != want {
		t.Errorf("Install() error = %q, want %q", err, want)
	}
	assertEmpty(t, filepath.Join(d.Root, "releases"))
}

func TestInvalidIDs(t *testing.T) {
	valid := []string{"a", "0", "rel_01jd2x", strings.Repeat("e3", 32), "v1.2.3-rc.1", "a" + strings.Repeat("z", 127)}
	invalid := []string{"", "Rel_1", ".", "..", ".tmp-x", "_a", "-a", "a/b", "../x", "a b", "rel\x00", "é", "a" + strings.Repeat("z", 128)}
	d := Dir{Root: t.TempDir()}
	for _, id := range valid {
		if err := checkID(id); err != nil {
			t.Errorf("checkID(%q) error = %v, want nil", id, err)
		}
	}
	for _, id := range invalid {
		for op, err := range map[string]error{
			"Install":  d.Install(t.Context(), id, failReader{t}, bundle.Limits{}),
			"Activate": d.Activate(id),
			"Remove":   d.Remove(id),
		} {
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("%s(%q) error = %v, want ErrInvalidID", op, id, err)
			}
		}
	}
	assertEmpty(t, d.Root)
}

func TestCurrentPointingElsewhere(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	if err := os.Symlink("/etc", filepath.Join(d.Root, "current")); err != nil {
		t.Fatal(err)
	}
	if id, err := d.Current(); err == nil {
		t.Errorf("Current() = %q, nil; want an error for current -> /etc", id)
	}
}

func TestPrune(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	t0 := time.Now().Add(-10 * time.Hour)
	// Install order differs from name order: Prune goes by install time.
	for i, id := range []string{"r4", "r3", "r2", "r1"} {
		install(t, d, id, id)
		at := t0.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(filepath.Join(d.Root, "releases", id), at, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Activate("r4"); err != nil { // the oldest
		t.Fatal(err)
	}
	if err := d.Prune(2); err != nil {
		t.Fatalf("Prune(2) error = %v", err)
	}
	if diff := cmp.Diff([]string{"r1", "r2", "r4"}, list(t, d)); diff != "" {
		t.Errorf("List() after Prune(2) mismatch (-want +got):\n%s", diff)
	}
	if err := d.Prune(0); err != nil {
		t.Fatalf("Prune(0) error = %v", err)
	}
	if diff := cmp.Diff([]string{"r4"}, list(t, d)); diff != "" {
		t.Errorf("List() after Prune(0) mismatch (-want +got):\n%s", diff)
	}
	if err := d.Prune(-1); err == nil {
		t.Error("Prune(-1) error = nil, want an error")
	}
}

func TestPruneRemovesLeftovers(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	install(t, d, "r1", "one")
	if err := d.Activate("r1"); err != nil {
		t.Fatal(err)
	}
	releases := filepath.Join(d.Root, "releases")
	for _, name := range []string{".rm-r0-X", ".tmp-r2-X"} {
		if err := os.MkdirAll(filepath.Join(releases, name, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("releases/r1", filepath.Join(d.Root, "current.tmp-X")); err != nil {
		t.Fatal(err)
	}
	if err := d.removeLeftovers(time.Now()); err != nil {
		t.Fatalf("removeLeftovers() error = %v", err)
	}
	// A fresh .tmp- may be an Install in progress; .rm- never is.
	if diff := cmp.Diff([]string{".tmp-r2-X", "r1"}, names(t, releases)); diff != "" {
		t.Errorf("releases/ mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"current", "current.tmp-X", "releases"}, names(t, d.Root)); diff != "" {
		t.Errorf("root mismatch (-want +got):\n%s", diff)
	}
	if err := d.removeLeftovers(time.Now().Add(staleAfter + time.Hour)); err != nil {
		t.Fatalf("removeLeftovers() error = %v", err)
	}
	if diff := cmp.Diff([]string{"r1"}, names(t, releases)); diff != "" {
		t.Errorf("releases/ mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"current", "releases"}, names(t, d.Root)); diff != "" {
		t.Errorf("root mismatch (-want +got):\n%s", diff)
	}
}

// TestActivateIsAtomic is the point of the layout: a reader that keeps
// opening current/index.html while releases are switched always reads one
// complete version, never an error and never a mix.
func TestActivateIsAtomic(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	versions := map[string]string{
		"rel_a": strings.Repeat("A", 256<<10),
		"rel_b": strings.Repeat("B", 256<<10),
	}
	for id, body := range versions {
		install(t, d, id, body)
	}
	if err := d.Activate("rel_a"); err != nil {
		t.Fatal(err)
	}

	var (
		reads atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
		seen  = map[string]int{} // written by the reader only, read after wg.Wait
		bad   []string
	)
	index := filepath.Join(d.Root, "current", "index.html")
	wg.Go(func() {
		for !stop.Load() {
			b, err := os.ReadFile(index)
			switch {
			case err != nil:
				bad = append(bad, err.Error())
			case string(b) == versions["rel_a"]:
				seen["rel_a"]++
			case string(b) == versions["rel_b"]:
				seen["rel_b"]++
			default:
				bad = append(bad, fmt.Sprintf("mixed or partial content: %d bytes starting %q", len(b), b[:min(len(b), 8)]))
			}
			reads.Add(1)
		}
	})
	for i := range 200 {
		if err := d.Activate([]string{"rel_b", "rel_a"}[i%2]); err != nil {
			t.Errorf("Activate() error = %v", err)
		}
		// Let the reader start at least one read after this switch, so
		// that it overlaps every switch and sees both versions.
		for n := reads.Load(); reads.Load() < n+2; {
			time.Sleep(10 * time.Microsecond)
		}
	}
	stop.Store(true)
	wg.Wait()

	if len(bad) > 0 {
		t.Errorf("%d of %d reads failed or mixed versions, first: %s", len(bad), reads.Load(), bad[0])
	}
	if seen["rel_a"] == 0 || seen["rel_b"] == 0 {
		t.Errorf("reader saw %v, want both versions", seen)
	}
	if diff := cmp.Diff([]string{"current", "releases"}, names(t, d.Root)); diff != "" {
		t.Errorf("root holds leftovers (-want +got):\n%s", diff)
	}
}

// targz returns a gzip-compressed tar archive of regular files.
func targz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// names lists the entries of dir.
func names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// assertEmpty fails unless dir exists and is empty: a failed Install leaves
// nothing behind.
func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("%s holds %q after a failed install, want nothing", dir, got)
	}
}
