package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// readBundle opens p with openBundle and returns the archive's entries as
// "name type [target|content]".
func readBundle(t *testing.T, p string) ([]string, []byte) {
	t.Helper()
	b, err := openBundle(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(b)
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var got []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		switch h.Typeflag {
		case tar.TypeDir:
			got = append(got, h.Name+" dir")
		case tar.TypeSymlink:
			got = append(got, h.Name+" symlink "+h.Linkname)
		case tar.TypeReg:
			got = append(got, h.Name+" file "+string(body))
		default:
			got = append(got, h.Name+" other")
		}
	}
	return got, raw
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenBundleDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"index.html": "<h1>hi</h1>", "css/site.css": "body{}", "img/.keep": ""})
	if err := os.Symlink("index.html", filepath.Join(dir, "home.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../index.html", filepath.Join(dir, "css", "up.html")); err != nil {
		t.Fatal(err)
	}
	got, raw := readBundle(t, dir)
	want := []string{
		"css/ dir", "css/site.css file body{}", "css/up.html symlink ../index.html",
		"home.html symlink index.html", "img/ dir", "img/.keep file ", "index.html file <h1>hi</h1>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// Packing the same directory again gives the same bundle.
	if _, again := readBundle(t, dir); !bytes.Equal(raw, again) {
		t.Error("packing an unchanged directory twice gave different bundles")
	}
}

func TestOpenBundleRefuses(t *testing.T) {
	t.Run("symlink outside", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"index.html": "x"})
		os.Symlink("../../etc/passwd", filepath.Join(dir, "passwd"))
		if _, err := openBundle(dir); err == nil || !strings.Contains(err.Error(), "outside the directory") {
			t.Errorf("openBundle: %v", err)
		}
	})
	t.Run("absolute symlink", func(t *testing.T) {
		dir := t.TempDir()
		os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
		if _, err := openBundle(dir); err == nil || !strings.Contains(err.Error(), "outside the directory") {
			t.Errorf("openBundle: %v", err)
		}
	})
	t.Run("not gzip", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "site.zip")
		os.WriteFile(p, []byte("PK\x03\x04"), 0o644)
		if _, err := openBundle(p); err == nil || !strings.Contains(err.Error(), "not gzip-compressed") {
			t.Errorf("openBundle: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := openBundle(filepath.Join(t.TempDir(), "nope")); err == nil {
			t.Error("openBundle of a missing path succeeded")
		}
	})
}

func TestOpenBundleTarGz(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"index.html": "hello"})
	_, raw := readBundle(t, dir)
	p := filepath.Join(t.TempDir(), "site.tar.gz")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := openBundle(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, _ := io.ReadAll(b)
	if !bytes.Equal(got, raw) || b.size != int64(len(raw)) {
		t.Errorf("a .tar.gz is not sent as it is: %d bytes (size %d), want %d", len(got), b.size, len(raw))
	}
}

func TestPreviousRelease(t *testing.T) {
	rels := []*berthv1.Release{{Id: "rel_3"}, {Id: "rel_2"}, {Id: "rel_1"}}
	for _, tt := range []struct {
		current, want, err string
	}{
		{"rel_3", "rel_2", ""},
		{"rel_2", "rel_1", ""},
		{"rel_1", "", "oldest"},
		{"", "", "serves no release"},
		{"rel_9", "", "not among"},
	} {
		got, err := previousRelease("site_x", rels, tt.current)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("previousRelease(%q) = %q, %v; want %q, error with %q", tt.current, got, err, tt.want, tt.err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
