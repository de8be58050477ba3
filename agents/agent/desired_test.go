package agent

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

const testSecret = "wp-db-password-3f9c1a7e"

func testDesired() *agentv1.DesiredState {
	return &agentv1.DesiredState{Revision: 42, Sites: []*agentv1.SiteAssignment{{
		SiteId: "site_01jd3m5kq8x7w2c9v4r6t0yzab", ClientId: "client_01jd3m5kq8x7w2c9v4r6t0yzab", Name: "blog",
		Kind: agentv1.SiteKind_SITE_KIND_WORDPRESS, Generation: 3, Domains: []string{"blog.example.com"},
		Secrets: map[string]string{"db_password": testSecret},
	}}}
}

func TestDesiredStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadDesired(dir); !errors.Is(err, ErrNoDesiredState) {
		t.Fatalf("LoadDesired on an empty dir = %v, want ErrNoDesiredState", err)
	}
	want := testDesired()
	if err := SaveDesired(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadDesired(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("LoadDesired (-want +got):\n%s", diff)
	}

	// Overwriting replaces the state.
	want.Revision = 43
	want.Sites = nil
	if err := SaveDesired(dir, want); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadDesired(dir); err != nil || !proto.Equal(got, want) {
		t.Errorf("after a second save, LoadDesired = %v, %v; want revision 43 without sites", got, err)
	}
}

func TestDesiredStateEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	if err := SaveDesired(dir, testDesired()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, desiredFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{testSecret, "blog.example.com"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s contains %q in plaintext", desiredFile, s)
		}
	}
	for _, f := range []string{desiredFile, stateKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}

	// A tampered file does not load.
	b[len(b)-1] ^= 1
	if err := os.WriteFile(filepath.Join(dir, desiredFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDesired(dir); err == nil || errors.Is(err, ErrNoDesiredState) {
		t.Errorf("LoadDesired of a tampered file = %v, want a decryption error", err)
	}
}
