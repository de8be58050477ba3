package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

func testSiteEdgeFields(t *testing.T, s store.Store) {
	c := newClient(1)
	site := newSite(c.ID, 1, "shop.example", "www.shop.example")
	site.HSTS = true
	site.Certificates = []store.CertificateStatus{{
		Domain: "shop.example", Issuer: "acme:127.0.0.1:14000", Managed: true,
		NotAfter: at(90 * 24 * time.Hour), LastAttempt: at(time.Minute),
	}, {
		Domain: "www.shop.example", Issuer: "acme:127.0.0.1:14000", Managed: true,
		LastAttempt: at(time.Minute), LastError: `urn:ietf:params:acme:error:dns: no such host "www.shop.example"`,
	}}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		return tx.CreateSite(site)
	})
	get := func() *store.Site {
		t.Helper()
		return read(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(site.ID) })
	}
	if diff := cmp.Diff(site, get(), equateEmpty); diff != "" {
		t.Errorf("GetSite after create (-want +got):\n%s", diff)
	}

	s2 := *site
	s2.HSTS, s2.RedirectAliases = false, true
	s2.CheckIntervalSeconds, s2.CheckExpectedStatus, s2.CheckKeyword = 30, 301, "Welcome"
	s2.Certificates = []store.CertificateStatus{{Domain: "shop.example", Issuer: "internal", NotAfter: at(7 * 24 * time.Hour)}}
	update(t, s, func(tx store.Tx) error { return tx.UpdateSite(&s2) })
	if diff := cmp.Diff(&s2, get(), equateEmpty); diff != "" {
		t.Errorf("GetSite after update (-want +got):\n%s", diff)
	}
	list := read(t, s, func(tx store.ReadTx) ([]*store.Site, error) { return tx.ListSites(store.SiteFilter{}, store.Page{}) })
	if diff := cmp.Diff([]*store.Site{&s2}, list, equateEmpty); diff != "" {
		t.Errorf("ListSites (-want +got):\n%s", diff)
	}

	s3 := s2
	s3.RedirectAliases, s3.Certificates = false, nil
	update(t, s, func(tx store.Tx) error { return tx.UpdateSite(&s3) })
	if got := get(); got.HSTS || got.RedirectAliases || len(got.Certificates) != 0 {
		t.Errorf("after clearing: HSTS %t, RedirectAliases %t, Certificates %v; want false, false, none",
			got.HSTS, got.RedirectAliases, got.Certificates)
	}
}

// certDir is a certmagic issuer directory.
const certDir = "certificates/acme-v02.api.letsencrypt.org-directory"

func putCertData(t *testing.T, s store.Store, ds ...*store.CertData) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, d := range ds {
			if err := tx.PutCertData(d); err != nil {
				return err
			}
		}
		return nil
	})
}

func testCertData(t *testing.T, s store.Store) {
	key := certDir + "/www.example.com/www.example.com.key"
	d := &store.CertData{Key: key, Value: []byte("-----BEGIN EC PRIVATE KEY-----\n..."), ModifyTime: at(time.Minute)}
	putCertData(t, s, d)
	get := func(key string) (*store.CertData, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) (*store.CertData, error) { return tx.GetCertData(key) })
	}
	got, err := get(key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("GetCertData after put (-want +got):\n%s", diff)
	}

	// Put replaces.
	d2 := &store.CertData{Key: key, Value: bytes.Repeat([]byte{0, 0xff, 'k'}, 2000), ModifyTime: at(time.Hour)}
	putCertData(t, s, d2)
	if got, err = get(key); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d2, got); diff != "" {
		t.Errorf("GetCertData after replace (-want +got):\n%s", diff)
	}

	_, err = get(certDir + "/www.example.com")
	wantErr(t, "GetCertData of a directory", err, store.ErrNotFound, "www.example.com")
	_, err = get("missing")
	wantErr(t, "GetCertData of a missing key", err, store.ErrNotFound, "missing")
}

func testCertDataStat(t *testing.T, s store.Store) {
	putCertData(t, s,
		&store.CertData{Key: certDir + "/a.example/a.example.crt", Value: []byte("crt"), ModifyTime: at(time.Minute)},
		&store.CertData{Key: certDir + "/a.example/a.example.json", Value: []byte("{}"), ModifyTime: at(time.Hour)},
		&store.CertData{Key: "last_clean.json", Value: []byte("{\"ok\":true}"), ModifyTime: at(time.Second)},
	)
	stat := func(key string) (store.CertDataInfo, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) (store.CertDataInfo, error) { return tx.StatCertData(key) })
	}
	for _, tt := range []struct {
		key  string
		want store.CertDataInfo
	}{
		{certDir + "/a.example/a.example.crt", store.CertDataInfo{Key: certDir + "/a.example/a.example.crt", Size: 3, ModifyTime: at(time.Minute), IsTerminal: true}},
		{"last_clean.json", store.CertDataInfo{Key: "last_clean.json", Size: 11, ModifyTime: at(time.Second), IsTerminal: true}},
		{certDir + "/a.example", store.CertDataInfo{Key: certDir + "/a.example", ModifyTime: at(time.Hour)}},
		{"certificates", store.CertDataInfo{Key: "certificates", ModifyTime: at(time.Hour)}},
	} {
		got, err := stat(tt.key)
		if err != nil {
			t.Errorf("StatCertData(%q): %v", tt.key, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("StatCertData(%q) (-want +got):\n%s", tt.key, diff)
		}
	}
	for _, key := range []string{"missing", "certif", certDir + "/a.example/a.example", "last_clean.json/x"} {
		_, err := stat(key)
		wantErr(t, "StatCertData("+key+")", err, store.ErrNotFound)
	}
}

func testCertDataList(t *testing.T, s store.Store) {
	keys := []string{
		certDir + "/b.example/b.example.crt",
		certDir + "/b.example/b.example.key",
		certDir + "/b.example-shop/b.example-shop.crt", // '-' sorts before '/'
		certDir + "/a.example/a.example.crt",
		"acme/acme-v02.api.letsencrypt.org-directory/users/ops@example.com/ops.json",
		"last_clean.json",
	}
	for i, k := range keys {
		putCertData(t, s, &store.CertData{Key: k, Value: []byte(k), ModifyTime: at(time.Duration(i) * time.Second)})
	}
	list := func(prefix string, recursive bool) ([]string, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) ([]string, error) { return tx.ListCertData(prefix, recursive) })
	}
	for _, tt := range []struct {
		prefix    string
		recursive bool
		want      []string
	}{
		{"", false, []string{"acme", "certificates", "last_clean.json"}},
		{"", true, sorted(keys, false)},
		{"certificates", false, []string{certDir}},
		{certDir, false, []string{certDir + "/a.example", certDir + "/b.example", certDir + "/b.example-shop"}},
		{certDir, true, []string{
			certDir + "/a.example/a.example.crt",
			certDir + "/b.example-shop/b.example-shop.crt",
			certDir + "/b.example/b.example.crt",
			certDir + "/b.example/b.example.key",
		}},
		{certDir + "/b.example", false, []string{certDir + "/b.example/b.example.crt", certDir + "/b.example/b.example.key"}},
		{certDir + "/b.example", true, []string{certDir + "/b.example/b.example.crt", certDir + "/b.example/b.example.key"}},
	} {
		got, err := list(tt.prefix, tt.recursive)
		if err != nil {
			t.Errorf("ListCertData(%q, %t): %v", tt.prefix, tt.recursive, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ListCertData(%q, %t) (-want +got):\n%s", tt.prefix, tt.recursive, diff)
		}
	}
	for _, prefix := range []string{"missing", "cert", "last_clean.json", certDir + "/b"} {
		_, err := list(prefix, false)
		wantErr(t, "ListCertData("+prefix+")", err, store.ErrNotFound)
	}
}

func testCertDataDelete(t *testing.T, s store.Store) {
	dir := certDir + "/a.example"
	keep := []string{certDir + "/a.example-shop/x.crt", certDir + "/a.exampl/x.crt", "last_clean.json"}
	for i, k := range append([]string{dir + "/a.example.crt", dir + "/a.example.key", dir + "/sub/x"}, keep...) {
		putCertData(t, s, &store.CertData{Key: k, Value: []byte("v"), ModifyTime: at(time.Duration(i) * time.Second)})
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteCertData(dir) })
	got := read(t, s, func(tx store.ReadTx) ([]string, error) { return tx.ListCertData("", true) })
	if diff := cmp.Diff(sorted(keep, false), got); diff != "" {
		t.Errorf("keys after deleting %s (-want +got):\n%s", dir, diff)
	}

	update(t, s, func(tx store.Tx) error { return tx.DeleteCertData("last_clean.json") })
	_, err := read2(t, s, func(tx store.ReadTx) (*store.CertData, error) { return tx.GetCertData("last_clean.json") })
	wantErr(t, "GetCertData after delete", err, store.ErrNotFound)
	for _, key := range []string{dir, "last_clean.json", "missing", certDir + "/a.example-sho"} {
		err := updateErr(t, s, func(tx store.Tx) error { return tx.DeleteCertData(key) })
		wantErr(t, "DeleteCertData("+key+")", err, store.ErrNotFound, key)
	}
}

// testCertDataWildcards: '%' and '_' in keys are plain characters, not LIKE
// patterns.
func testCertDataWildcards(t *testing.T, s store.Store) {
	keys := []string{"a%/x", "a_/x", "ab/x", "aXb/x", "a%b/x"}
	for i, k := range keys {
		putCertData(t, s, &store.CertData{Key: k, Value: []byte(k), ModifyTime: at(time.Duration(i) * time.Second)})
	}
	for _, prefix := range []string{"a%", "a_"} {
		got := read(t, s, func(tx store.ReadTx) ([]string, error) { return tx.ListCertData(prefix, true) })
		if diff := cmp.Diff([]string{prefix + "/x"}, got); diff != "" {
			t.Errorf("ListCertData(%q) (-want +got):\n%s", prefix, diff)
		}
	}
	_, err := read2(t, s, func(tx store.ReadTx) (store.CertDataInfo, error) { return tx.StatCertData("a_b") })
	wantErr(t, "StatCertData(a_b)", err, store.ErrNotFound)
	update(t, s, func(tx store.Tx) error { return tx.DeleteCertData("a_") })
	update(t, s, func(tx store.Tx) error { return tx.DeleteCertData("a%") })
	got := read(t, s, func(tx store.ReadTx) ([]string, error) { return tx.ListCertData("", true) })
	if diff := cmp.Diff([]string{"a%b/x", "aXb/x", "ab/x"}, got); diff != "" {
		t.Errorf("keys after deleting a_ and a%% (-want +got):\n%s", diff)
	}
}

func testCertLocks(t *testing.T, s store.Store) {
	const name = "issue_cert_www.example.com"
	acquire := func(owner string, now, expires time.Time) bool {
		t.Helper()
		var ok bool
		update(t, s, func(tx store.Tx) error {
			var err error
			ok, err = tx.AcquireCertLock(name, owner, now, expires)
			return err
		})
		return ok
	}
	release := func(owner string) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.ReleaseCertLock(name, owner) })
	}

	if !acquire("node-a", at(0), at(time.Minute)) {
		t.Fatal("node-a could not take a free lock")
	}
	if acquire("node-b", at(30*time.Second), at(90*time.Second)) {
		t.Error("node-b took a lock node-a holds")
	}
	// Re-acquiring extends node-a's lock past its first expiry.
	if !acquire("node-a", at(50*time.Second), at(2*time.Minute)) {
		t.Error("node-a could not re-acquire its own lock")
	}
	if acquire("node-b", at(90*time.Second), at(3*time.Minute)) {
		t.Error("node-b took node-a's extended lock before it expired")
	}
	// A release by another owner changes nothing.
	release("node-b")
	if acquire("node-b", at(100*time.Second), at(3*time.Minute)) {
		t.Error("node-b took node-a's lock after releasing it itself")
	}
	// Expiry lets another owner in.
	if !acquire("node-b", at(2*time.Minute), at(3*time.Minute)) {
		t.Error("node-b could not take node-a's expired lock")
	}
	if acquire("node-a", at(2*time.Minute), at(4*time.Minute)) {
		t.Error("node-a took node-b's lock")
	}
	release("node-b")
	if !acquire("node-a", at(2*time.Minute), at(4*time.Minute)) {
		t.Error("node-a could not take the released lock")
	}
	// Locks are independent of each other.
	update(t, s, func(tx store.Tx) error {
		ok, err := tx.AcquireCertLock("issue_cert_other.example", "node-b", at(2*time.Minute), at(4*time.Minute))
		if err == nil && !ok {
			t.Error("node-b could not take another name's free lock")
		}
		return err
	})
	release("node-a")
	release("node-a") // releasing twice is a no-op
}
