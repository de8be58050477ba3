package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"
)

// testTime is the mtime of test entries; whole seconds survive USTAR.
var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// ent is one entry of a test archive.
type ent struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: testTime}, body: body}
}

func dirEnt(name string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}}
}

func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

// special is an entry of any type without content.
func special(typ byte, name, linkname string) ent {
	return ent{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: linkname, Mode: 0o644, ModTime: testTime}}
}

// writeTar writes entries as a tar stream to w.
func writeTar(w io.Writer, entries ...ent) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			return err
		}
	}
	return tw.Close()
}

// buildTarGz returns entries as a gzip-compressed tar archive.
func buildTarGz(entries ...ent) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := writeTar(zw, entries...); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func targz(t testing.TB, entries ...ent) []byte {
	t.Helper()
	b, err := buildTarGz(entries...)
	if err != nil {
		t.Fatalf("build archive: %v", err)
	}
	return b
}

func plainTar(t testing.TB, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeTar(&buf, entries...); err != nil {
		t.Fatalf("build archive: %v", err)
	}
	return buf.Bytes()
}

// zeros is an archive with a file named name of size zero bytes, followed
// by trailing zero bytes after the end of the tar stream, all compressed.
func zeros(t testing.TB, name string, size, trailing int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: testTime}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, zeroReader{}, trailing); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
