package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/bundle"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
)

// secret stands for a detail that must not reach the caller: a path, a
// query, an address.
const secret = "/var/lib/berth/berth.db"

type statusWant struct {
	Code codes.Code
	Msg  string
}

func statusOf(err error) statusWant {
	st := status.Convert(err)
	return statusWant{st.Code(), st.Message()}
}

// sentinels are error texts that must never reach the caller.
var sentinels = []error{
	store.ErrNotFound, store.ErrConflict, store.ErrInUse,
	bundle.ErrUnsafe, bundle.ErrTooLarge, bundle.ErrCorrupt,
}

// archive returns a gzip-compressed tar archive of regular files, given as
// name and content pairs.
func archive(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i := 0; i < len(files); i += 2 {
		hdr := &tar.Header{Name: files[i], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[i+1]))}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unpackErr unpacks r into a new directory under parent with lim, as
// checkBundle does, and returns the error as checkBundle would.
func unpackErr(t *testing.T, r io.Reader, parent string, lim bundle.Limits) error {
	t.Helper()
	_, err := bundle.Unpack(context.Background(), r, filepath.Join(parent, "release"), lim)
	if err == nil {
		t.Fatal("Unpack succeeded, want an error")
	}
	return bundleError(err)
}

// TestToStatus covers every mapping of toStatus.
func TestToStatus(t *testing.T) {
	internal := statusWant{codes.Internal, "internal error; the server log has details"}
	noise := make([]byte, 64<<10) // does not compress
	for i := range noise {
		noise[i] = byte(rand.N(256))
	}
	truncated := archive(t, "index.html", "ok", "noise.bin", string(noise))
	truncated = truncated[:len(truncated)/2]
	unpack := func(b []byte, lim bundle.Limits) error { return unpackErr(t, bytes.NewReader(b), t.TempDir(), lim) }
	siteNotFound := &store.Error{Kind: store.ErrNotFound, Msg: `site "site_1"`}
	tests := []struct {
		name string
		err  error
		want statusWant
	}{
		{"status passes through", status.Error(codes.PermissionDenied, "for admins"), statusWant{codes.PermissionDenied, "for admins"}},
		{"store not found", siteNotFound, statusWant{codes.NotFound, `site "site_1"`}},
		{"store not found, wrapped", fmt.Errorf("read site: %w", siteNotFound), statusWant{codes.NotFound, `site "site_1"`}},
		{"store conflict",
			&store.Error{Kind: store.ErrConflict, Msg: `domain "a.example" is already used by another site`},
			statusWant{codes.AlreadyExists, `domain "a.example" is already used by another site`}},
		{"store in use",
			&store.Error{Kind: store.ErrInUse, Msg: "client has 2 sites; delete them first"},
			statusWant{codes.FailedPrecondition, "client has 2 sites; delete them first"}},
		{"bare store not found", fmt.Errorf("get %s: %w", secret, store.ErrNotFound), statusWant{codes.NotFound, "not found"}},
		{"bare store conflict", store.ErrConflict, statusWant{codes.AlreadyExists, "already exists"}},
		{"bare store in use", store.ErrInUse, statusWant{codes.FailedPrecondition, "still in use"}},
		{"store error without a message", &store.Error{Kind: store.ErrNotFound}, statusWant{codes.NotFound, "not found"}},
		{"store error of another kind", &store.Error{Kind: errors.New(secret), Msg: secret}, internal},
		{"failed precondition",
			rpc.FailedPrecondition("site %q is being deleted", "site_1"),
			statusWant{codes.FailedPrecondition, `site "site_1" is being deleted`}},
		{"failed precondition, wrapped",
			fmt.Errorf("update site: %w", rpc.FailedPrecondition("site %q is being deleted", "site_1")),
			statusWant{codes.FailedPrecondition, `site "site_1" is being deleted`}},
		{"user error wins over the store error it wraps",
			&rpc.UserError{Code: codes.FailedPrecondition, Msg: "activate another release first", Err: siteNotFound},
			statusWant{codes.FailedPrecondition, "activate another release first"}},
		{"invalid argument hides its cause",
			rpc.InvalidArgument(errors.New(secret), "the bundle is empty"),
			statusWant{codes.InvalidArgument, "the bundle is empty"}},
		{"validation",
			fmt.Errorf("create site: %w", &validate.Error{Field: "primary_domain", Msg: "spaces are not allowed in a host name", Value: "exa mple.com"}),
			statusWant{codes.InvalidArgument, `primary_domain "exa mple.com": spaces are not allowed in a host name`}},
		{"no credential", auth.ErrNoCredential,
			statusWant{codes.Unauthenticated, `no credential: send an API token as "authorization: Bearer berth_..."`}},
		{"invalid credential", fmt.Errorf("authenticate: %w", auth.ErrInvalidCredential),
			statusWant{codes.Unauthenticated, "the token is invalid, expired or revoked: log in again or create a new token"}},
		{"cancelled", fmt.Errorf("list sites: %w", context.Canceled), statusWant{codes.Canceled, "the call was cancelled"}},
		{"deadline", context.DeadlineExceeded, statusWant{codes.DeadlineExceeded, "the call's deadline passed before it finished"}},
		{"unknown", fmt.Errorf("open %s: permission denied", secret), internal},
		{"unsafe bundle", unpack(archive(t, "index.html", "ok", "../evil.html", "evil"), bundle.Limits{}),
			statusWant{codes.InvalidArgument, `bundle rejected: entry "../evil.html": path leaves the release`}},
		{"bundle over a limit", unpack(archive(t, "a.html", "0123456789", "b.html", "0123456789"), bundle.Limits{MaxBytes: 15}),
			statusWant{codes.InvalidArgument, `bundle rejected: entry "b.html": release is larger than 15 bytes (MaxBytes)`}},
		{"bundle over the compressed limit", unpack(archive(t, "noise.bin", string(noise)), bundle.Limits{MaxCompressedBytes: 1024}),
			statusWant{codes.InvalidArgument, "bundle rejected: compressed archive is larger than 1024 bytes (MaxCompressedBytes)"}},
		{"bundle not gzip", unpack([]byte("<html>not an archive</html>"), bundle.Limits{}),
			statusWant{codes.InvalidArgument, "the bundle is not a complete gzip-compressed tar archive: read gzip header: gzip: invalid header"}},
		{"bundle truncated in an entry", unpack(truncated, bundle.Limits{}),
			statusWant{codes.InvalidArgument, `the bundle is not a complete gzip-compressed tar archive: entry "noise.bin": read content: unexpected EOF`}},
		{"bundle unreadable", unpackErr(t, iotest.ErrReader(errors.New(secret)), t.TempDir(), bundle.Limits{}), internal},
		{"bundle unpacked nowhere", unpackErr(t, bytes.NewReader(truncated), filepath.Join(t.TempDir(), "missing"), bundle.Limits{}), internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rpc.ToStatus(tt.err)
			if diff := cmp.Diff(tt.want, statusOf(got)); diff != "" {
				t.Errorf("rpc.ToStatus(%q) mismatch (-want +got):\n%s", tt.err, diff)
			}
			msg := status.Convert(got).Message()
			if tt.want.Msg != secret && strings.Contains(msg, secret) {
				t.Errorf("rpc.ToStatus(%q) leaks %q", tt.err, secret)
			}
			for _, s := range sentinels {
				if strings.Contains(msg, s.Error()) {
					t.Errorf("rpc.ToStatus(%q) = %q, shows the text of %q", tt.err, msg, s)
				}
			}
		})
	}
	if err := rpc.ToStatus(nil); err != nil {
		t.Errorf("rpc.ToStatus(nil) = %v, want nil", err)
	}
}

// TestToStatusStoreErrors checks the errors a real store returns: their
// messages reach the caller without the sentinel's text.
func TestToStatusStoreErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "berth.db"), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	client := &store.Client{ID: store.NewID("cli", now), DisplayName: "Acme", Slug: "acme", ContactEmail: "ops@acme.example", CreateTime: now, UpdateTime: now}
	site := &store.Site{
		ID: store.NewID("site", now), ClientID: client.ID, Name: "www", Kind: store.SiteKindStatic,
		PrimaryDomain: "www.acme.example", MemoryMiB: 128, CPUMillicores: 250,
		State: store.SiteStatePending, Generation: 1, CreateTime: now, UpdateTime: now,
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateClient(client); err != nil {
			return err
		}
		return tx.CreateSite(site)
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		fn   func(tx store.Tx) error
		want statusWant
	}{
		{"not found", func(tx store.Tx) error { _, err := tx.GetSite("site_missing"); return err },
			statusWant{codes.NotFound, `site "site_missing"`}},
		{"conflict", func(tx store.Tx) error {
			other := *site
			other.ID, other.Name = store.NewID("site", now.Add(time.Millisecond)), "other"
			return tx.CreateSite(&other)
		}, statusWant{codes.AlreadyExists, `domain "www.acme.example" is already used by another site`}},
		{"in use", func(tx store.Tx) error { return tx.DeleteClient(client.ID) },
			statusWant{codes.FailedPrecondition, "client has 1 site; delete it first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := st.Update(ctx, tt.fn)
			if diff := cmp.Diff(tt.want, statusOf(rpc.ToStatus(err))); diff != "" {
				t.Errorf("rpc.ToStatus(%q) mismatch (-want +got):\n%s", err, diff)
			}
		})
	}
}
