package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fuzzSeeds are small archives, safe and hostile; the corpus in
// testdata/fuzz/FuzzUnpack holds each gzip-compressed and as fuzzTar.
func fuzzSeeds() map[string][]ent {
	return map[string][]ent{
		"site":           {reg("./index.html", "<h1>hi</h1>"), reg("assets/img/logo.png", "PNG"), symlink("blog/img", "../assets/img")},
		"dotdot":         {reg("a/../../x", "x")},
		"absolute":       {reg("/etc/passwd", "x")},
		"symlink_abs":    {symlink("link", "/etc"), reg("link/passwd", "x")},
		"symlink_escape": {symlink("escape", "self/../x"), symlink("self", ".")},
		"hardlink":       {reg("a", "x"), special(tar.TypeLink, "b", "a")},
		"fifo":           {special(tar.TypeFifo, "p", "")},
		"duplicate":      {reg("a", "1"), reg("./a", "2")},
		"global_header": {
			{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "abc"}}},
			reg("public/index.html", "x"),
		},
	}
}

// FuzzUnpack feeds Unpack gzip-compressed input as is; anything else is
// taken as a tar stream and compressed first, so that mutations explore the
// tar entries rather than only break the gzip checksum.
func FuzzUnpack(f *testing.F) {
	for _, entries := range fuzzSeeds() {
		f.Add(fuzzTar(f, entries...))
		f.Add(targz(f, entries...))
	}
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b not really gzip"))

	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			data = storedGzip(data)
		}
		parent, err := os.MkdirTemp(base, "")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(parent)
		dir := filepath.Join(parent, "rel")
		lim := Limits{MaxBytes: 1 << 20, MaxFiles: 64, MaxCompressedBytes: 1 << 20}
		_, err = Unpack(t.Context(), bytes.NewReader(data), dir, lim)
		got := names(t, parent)
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("Unpack() error = %v, but %s holds %q", err, parent, got)
			}
			return
		}
		if !slices.Equal(got, []string{"rel"}) {
			t.Fatalf("Unpack() wrote %q next to the release", got)
		}
		checkTree(t, dir)
	})
}

// fuzzBase returns the directory FuzzUnpack unpacks under. On a disk,
// creating and removing a handful of inodes takes milliseconds, and the
// fuzzer then spends its time minimizing each new input instead of
// exploring; /dev/shm, where there is one, is memory and 15 times faster.
func fuzzBase(f *testing.F) string {
	base, err := os.MkdirTemp("/dev/shm", "berth-release-fuzz-")
	if err != nil {
		return f.TempDir()
	}
	f.Cleanup(func() {
		if err := os.RemoveAll(base); err != nil {
			f.Error(err)
		}
	})
	return base
}

// storedGzip wraps data in gzip without compressing it (deflate stored
// blocks, RFC 1951 3.2.4). It is much cheaper per exec than gzip.Writer,
// whose compressor allocates hundreds of kilobytes.
func storedGzip(data []byte) []byte {
	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff} // magic, deflate, no flags, no mtime, unknown OS
	rest := data
	for {
		n := min(len(rest), 0xffff)
		final := byte(0)
		if n == len(rest) {
			final = 1
		}
		out = append(out, final, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		out = append(out, rest[:n]...)
		rest = rest[n:]
		if final == 1 {
			break
		}
	}
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	return binary.LittleEndian.AppendUint32(out, uint32(len(data)))
}

// fuzzTar is entries as a tar stream without the end-of-archive blocks,
// which the reader does not need: every byte of a seed costs the fuzzer
// time when it minimizes.
func fuzzTar(t testing.TB, entries ...ent) []byte {
	t.Helper()
	b := plainTar(t, entries...)
	return b[:len(b)-1024]
}

// checkTree fails unless dir holds only 0644 files, 0755 directories and
// symlinks that resolve inside dir.
func checkTree(t *testing.T, dir string) {
	t.Helper()
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode.IsRegular() && mode == 0o644, mode.IsDir() && mode.Perm() == 0o755 && mode&^fs.ModePerm == fs.ModeDir:
		case mode&fs.ModeSymlink != 0:
			if !resolvesInside(t, dir, p) {
				t.Errorf("symlink %s resolves outside the release", p)
			}
			if real, err := filepath.EvalSymlinks(p); err == nil && real != realDir && !strings.HasPrefix(real, realDir+string(filepath.Separator)) {
				t.Errorf("symlink %s resolves to %s, outside the release", p, real)
			}
		default:
			t.Errorf("%s has mode %v, want a 0644 file, a 0755 directory or a symlink", p, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// resolvesInside follows the symlink link on disk, component by component
// as the kernel does, and reports whether it stays within root. Missing
// components are taken as directories, which is stricter than the kernel.
func resolvesInside(t *testing.T, root, link string) bool {
	t.Helper()
	rel, err := filepath.Rel(root, link)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	cur := strings.Split(filepath.Dir(rel), "/")
	if cur[0] == "." {
		cur = nil
	}
	pending := strings.Split(target, "/")
	if filepath.IsAbs(target) {
		return false
	}
	for hops := 1; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return false
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := filepath.Join(append([]string{root}, append(slices.Clone(cur), c)...)...)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > maxHops {
				return false
			}
			next, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.IsAbs(next) {
				return false
			}
			pending = append(strings.Split(next, "/"), pending...)
			continue
		}
		cur = append(cur, c)
	}
	return true
}

func TestStoredGzip(t *testing.T) {
	for _, size := range []int{0, 1, 0xffff, 0xffff + 1, 200_000} {
		data := bytes.Repeat([]byte("berth"), size/5+1)[:size]
		zr, err := gzip.NewReader(bytes.NewReader(storedGzip(data)))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d: round trip = %d bytes, %v; want the input back", size, len(got), err)
		}
	}
}
