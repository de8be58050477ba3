package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUnpackRejects(t *testing.T) {
	entries := func(es ...ent) func(testing.TB) []byte {
		return func(t testing.TB) []byte { return targz(t, es...) }
	}
	random := make([]byte, 256<<10) // incompressible, so a cut lands inside it
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(random)
	invalidUTF8 := reg("bad\xffname.html", "x")
	invalidUTF8.hdr.Format = tar.FormatGNU // USTAR and PAX refuse to write it

	tests := []struct {
		name    string
		archive func(testing.TB) []byte
		lim     Limits
		wantErr error
		wantMsg string
	}{
		{
			name:    "dotdot",
			archive: entries(reg("index.html", "ok"), reg("../x", "pwned")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "../x": path leaves the release`,
		},
		{
			name:    "absolute",
			archive: entries(reg("/abs", "pwned")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "/abs": path is absolute`,
		},
		{
			name:    "dotdot after a directory",
			archive: entries(reg("a/../../x", "pwned")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "a/../../x": path leaves the release`,
		},
		{
			name:    "dotdot below the leading dot",
			archive: entries(reg("./../etc/passwd", "pwned")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "./../etc/passwd": path leaves the release`,
		},
		{
			name:    "absolute symlink then a file through it",
			archive: entries(symlink("link", "/etc"), reg("link/passwd", "pwned")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "link": symlink target "/etc" is absolute`,
		},
		{
			name:    "file through a symlink that stays inside",
			archive: entries(dirEnt("sub/"), symlink("link", "sub"), reg("link/index.html", "x")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "link/index.html": path goes through symlink "link"`,
		},
		{
			name:    "directory through a symlink",
			archive: entries(symlink("link", "."), dirEnt("link/d/")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "link/d/": path goes through symlink "link"`,
		},
		{
			name:    "symlink leaving the release",
			archive: entries(dirEnt("a/"), symlink("a/up", "../../x")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "a/up": symlink target "../../x" leaves the release`,
		},
		{
			name: "symlink leaving through another symlink",
			// Lexically "self/../x" is "x", but self is the release root,
			// so the kernel resolves it to the release's sibling x.
			archive: entries(symlink("escape", "self/../x"), symlink("self", ".")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "escape": symlink target "self/../x" resolves outside the release`,
		},
		{
			name:    "symlink loop",
			archive: entries(symlink("a", "b"), symlink("b", "a")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "a": symlink target "b" goes through more than 40 symlinks`,
		},
		{
			name:    "hard link",
			archive: entries(reg("index.html", "x"), special(tar.TypeLink, "copy.html", "index.html")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "copy.html": hard links are not allowed`,
		},
		{
			name:    "char device",
			archive: entries(special(tar.TypeChar, "null", "")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "null": character devices are not allowed`,
		},
		{
			name:    "block device",
			archive: entries(special(tar.TypeBlock, "sda", "")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "sda": block devices are not allowed`,
		},
		{
			name:    "fifo",
			archive: entries(special(tar.TypeFifo, "pipe", "")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "pipe": FIFOs are not allowed`,
		},
		{
			name:    "duplicate",
			archive: entries(reg("index.html", "one"), reg("index.html", "two")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "index.html": duplicate entry for this path`,
		},
		{
			name:    "duplicate after cleaning",
			archive: entries(reg("a/index.html", "one"), reg("./a//index.html", "two")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "./a//index.html": duplicate entry for this path`,
		},
		{
			name:    "file replacing a directory",
			archive: entries(reg("a/b", "x"), reg("a", "y")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "a": duplicate entry for this path`,
		},
		{
			name:    "file below a file",
			archive: entries(reg("a", "x"), reg("a/b", "y")),
			wantErr: ErrUnsafe,
			wantMsg: `entry "a/b": "a" is a file, not a directory`,
		},
		{
			name:    "invalid UTF-8",
			archive: entries(invalidUTF8),
			wantErr: ErrUnsafe,
			wantMsg: `entry "bad\xffname.html": name is not valid UTF-8`,
		},
		{
			name:    "too deep",
			archive: entries(reg(strings.Repeat("d/", maxDepth)+"f", "x")),
			wantErr: ErrUnsafe,
			wantMsg: `path is more than 128 directories deep`,
		},
		{
			name:    "too many files",
			archive: entries(reg("a", ""), reg("b", ""), reg("c", ""), reg("d", "")),
			lim:     Limits{MaxFiles: 3},
			wantErr: ErrTooLarge,
			wantMsg: `entry "d": archive has more than 3 entries (MaxFiles)`,
		},
		{
			name:    "too many files counting implied directories",
			archive: entries(reg("a/b/c.html", "")),
			lim:     Limits{MaxFiles: 2},
			wantErr: ErrTooLarge,
			wantMsg: `entry "a/b/c.html": release has more than 2 files, directories and symlinks (MaxFiles)`,
		},
		{
			name:    "too many bytes in all",
			archive: entries(reg("a", "123456"), reg("b", "123456")),
			lim:     Limits{MaxBytes: 10},
			wantErr: ErrTooLarge,
			wantMsg: `entry "b": release is larger than 10 bytes (MaxBytes)`,
		},
		{
			name:    "gzip bomb in a file",
			archive: func(t testing.TB) []byte { return zeros(t, "zeros.bin", 32<<20, 0) },
			lim:     Limits{MaxBytes: 1 << 20},
			wantErr: ErrTooLarge,
			wantMsg: `entry "zeros.bin": release is larger than 1048576 bytes (MaxBytes)`,
		},
		{
			name:    "gzip bomb after the tar stream",
			archive: func(t testing.TB) []byte { return zeros(t, "small.bin", 10, 32<<20) },
			lim:     Limits{MaxBytes: 1 << 20},
			wantErr: ErrTooLarge,
			wantMsg: `archive decompresses to more than its files and tar framing need`,
		},
		{
			name:    "compressed size",
			archive: entries(reg("random.bin", string(random[:4096]))),
			lim:     Limits{MaxCompressedBytes: 1024},
			wantErr: ErrTooLarge,
			wantMsg: `compressed archive is larger than 1024 bytes (MaxCompressedBytes)`,
		},
		{
			name:    "not gzip",
			archive: func(testing.TB) []byte { return []byte("<html>not an archive</html>") },
			wantErr: ErrCorrupt,
			wantMsg: `read gzip header`,
		},
		{
			name:    "empty input",
			archive: func(testing.TB) []byte { return nil },
			wantErr: ErrCorrupt,
			wantMsg: `unexpected EOF`,
		},
		{
			name:    "tar without gzip",
			archive: func(t testing.TB) []byte { return plainTar(t, reg("index.html", "x")) },
			wantErr: ErrCorrupt,
			wantMsg: `read gzip header`,
		},
		{
			name: "truncated inside a file",
			archive: func(t testing.TB) []byte {
				b := targz(t, reg("index.html", "ok"), reg("random.bin", string(random)))
				return b[:len(b)/2]
			},
			wantErr: ErrCorrupt,
			wantMsg: `entry "random.bin": bundle: corrupt archive: read content: unexpected EOF`,
		},
		{
			name: "gzip trailer cut off",
			archive: func(t testing.TB) []byte {
				b := targz(t, reg("index.html", "ok"))
				return b[:len(b)-4]
			},
			wantErr: ErrCorrupt,
			wantMsg: `read end of archive: unexpected EOF`,
		},
		{
			name: "garbage instead of a tar header",
			archive: func(t testing.TB) []byte {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				if _, err := zw.Write(bytes.Repeat([]byte("not a tar header "), 64)); err != nil {
					t.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			},
			wantErr: ErrCorrupt,
			wantMsg: `read tar header`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "rel")
			_, err := Unpack(t.Context(), bytes.NewReader(tt.archive(t)), dir, tt.lim)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unpack() error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Unpack() error = %q, want it to contain %q", err, tt.wantMsg)
			}
			assertEmpty(t, parent)
		})
	}
}

func TestUnpack(t *testing.T) {
	modTime := testTime.Add(-time.Hour)
	index := reg("./index.html", "<h1>hello</h1>")
	index.hdr.Mode = 0o6777 // setuid, setgid, world-writable, executable: all dropped
	index.hdr.ModTime = modTime
	assets := dirEnt("assets/")
	assets.hdr.Mode = 0o700
	assets.hdr.ModTime = modTime
	logo := "\x89PNG\r\n\x1a\n\x00\x01\x02"
	archive := targz(t,
		ent{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "0123abc"}}},
		dirEnt("./"),
		index,
		assets,
		reg("assets/css/site.css", "body{}"),
		reg("assets/img/logo.png", logo),
		symlink("latest", "img/logo.png"), // through a symlink that comes later
		symlink("img", "assets/img"),
		symlink("blog/img", "../assets/img"),
		reg("public/robots.txt", "User-agent: *"), // a top-level directory is kept
		dirEnt("empty/"),
		dirEnt("public/"), // explicit after implied
	)
	parent := t.TempDir()
	dir := filepath.Join(parent, "rel")

	stats, err := Unpack(t.Context(), bytes.NewReader(archive), dir, Limits{})
	if err != nil {
		t.Fatalf("Unpack() error = %v", err)
	}

	want := map[string]string{
		".":                   "drwxr-xr-x",
		"assets":              "drwxr-xr-x",
		"assets/css":          "drwxr-xr-x",
		"assets/css/site.css": "-rw-r--r-- body{}",
		"assets/img":          "drwxr-xr-x",
		"assets/img/logo.png": "-rw-r--r-- " + logo,
		"blog":                "drwxr-xr-x",
		"blog/img":            "Lrwxrwxrwx -> ../assets/img",
		"empty":               "drwxr-xr-x",
		"img":                 "Lrwxrwxrwx -> assets/img",
		"index.html":          "-rw-r--r-- <h1>hello</h1>",
		"latest":              "Lrwxrwxrwx -> img/logo.png",
		"public":              "drwxr-xr-x",
		"public/robots.txt":   "-rw-r--r-- User-agent: *",
	}
	if diff := cmp.Diff(want, snapshot(t, dir)); diff != "" {
		t.Errorf("release tree mismatch (-want +got):\n%s", diff)
	}
	wantStats := Stats{Files: 13, Bytes: int64(len("<h1>hello</h1>") + len("body{}") + len(logo) + len("User-agent: *"))}
	if diff := cmp.Diff(wantStats, stats); diff != "" {
		t.Errorf("Stats mismatch (-want +got):\n%s", diff)
	}
	for name, want := range map[string]time.Time{"index.html": modTime, "assets": modTime, "empty": testTime, "assets/css/site.css": testTime} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("mtime of %s = %v, want %v", name, fi.ModTime(), want)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "latest")); err != nil || string(got) != logo {
		t.Errorf("read through symlinks = %q, %v; want the logo", got, err)
	}
	if diff := cmp.Diff([]string{"rel"}, names(t, parent)); diff != "" {
		t.Errorf("parent directory mismatch (-want +got):\n%s", diff)
	}
}

func TestUnpackIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077) // process-wide, so this test is not parallel
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "rel")
	if _, err := Unpack(t.Context(), bytes.NewReader(targz(t, reg("a/b.html", "x"))), dir, Limits{}); err != nil {
		t.Fatalf("Unpack() error = %v", err)
	}
	want := map[string]string{".": "drwxr-xr-x", "a": "drwxr-xr-x", "a/b.html": "-rw-r--r-- x"}
	if diff := cmp.Diff(want, snapshot(t, dir)); diff != "" {
		t.Errorf("release tree mismatch (-want +got):\n%s", diff)
	}
}

func TestUnpackExistingDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Unpack(t.Context(), bytes.NewReader(targz(t, reg("a", "x"))), dir, Limits{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Unpack() error = %v, want fs.ErrExist", err)
	}
	if diff := cmp.Diff([]string{"keep"}, names(t, dir)); diff != "" {
		t.Errorf("existing directory was touched (-want +got):\n%s", diff)
	}
}

func TestUnpackContextAndInputErrors(t *testing.T) {
	archive := targz(t, reg("index.html", strings.Repeat("x", 100<<10)))
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	errInput := errors.New("connection reset")
	tests := []struct {
		name    string
		ctx     context.Context
		r       io.Reader
		wantErr error
	}{
		{"canceled", canceled, bytes.NewReader(archive), context.Canceled},
		{"input fails", t.Context(), io.MultiReader(bytes.NewReader(archive[:len(archive)/2]), iotest.ErrReader(errInput)), errInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			_, err := Unpack(tt.ctx, tt.r, filepath.Join(parent, "rel"), Limits{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unpack() error = %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, ErrCorrupt) {
				t.Errorf("Unpack() error = %v, must not blame the archive", err)
			}
			assertEmpty(t, parent)
		})
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		name, want, reason string
	}{
		{"index.html", "index.html", ""},
		{"./a//b/", "a/b", ""},
		{"./", ".", ""},
		{"a/../b", "b", ""},
		{"public/", "public", ""},
		{"", "", "name is empty"},
		{"a\x00b", "", "name contains a NUL byte"},
		{"\xc3\x28", "", "name is not valid UTF-8"},
		{"/etc/passwd", "", "path is absolute"},
		{"..", "", "path leaves the release"},
		{"a/../..", "", "path leaves the release"},
		{strings.Repeat("a", maxName+1), "", "name is longer than 4096 bytes"},
	}
	for _, tt := range tests {
		got, reason := cleanName(tt.name)
		if got != tt.want || reason != tt.reason {
			t.Errorf("cleanName(%q) = %q, %q; want %q, %q", tt.name, got, reason, tt.want, tt.reason)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	want := Limits{MaxBytes: 512 << 20, MaxFiles: 100_000, MaxCompressedBytes: 256 << 20}
	if diff := cmp.Diff(want, Limits{MaxBytes: -1}.withDefaults()); diff != "" {
		t.Errorf("withDefaults() mismatch (-want +got):\n%s", diff)
	}
}

// snapshot describes every path under dir: its mode, then a regular file's
// content or a symlink's target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		got[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// assertEmpty fails unless dir exists and is empty: a failed Unpack leaves
// nothing behind.
func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("%s holds %q after a failed unpack, want nothing", dir, got)
	}
}
