package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/storetest"
)

func testBox(t testing.TB) *seal.Box {
	t.Helper()
	b, err := seal.New(bytes.Repeat([]byte{0x42}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openAt opens a store on path and closes it at the end of the test.
func openAt(t testing.TB, path string, box *seal.Box) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Path: path, Box: box})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTestStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	return openAt(t, path, testBox(t)), path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newTestStore(t)
		return s
	})
}

// rawDB opens the file without the store, for looking behind its back.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func createSite(t *testing.T, s store.Store, secrets map[string]string) *store.Site {
	t.Helper()
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	c := &store.Client{ID: store.NewID("cli", now), DisplayName: "Acme", Slug: "acme-" + store.NewID("x", now),
		CreateTime: now, UpdateTime: now}
	site := &store.Site{ID: store.NewID("site", now), ClientID: c.ID, Name: "blog", Kind: store.SiteKindWordPress,
		PrimaryDomain: "blog-" + store.NewID("x", now) + ".example", State: store.SiteStatePending,
		Secrets: secrets, CreateTime: now, UpdateTime: now}
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		return tx.CreateSite(site)
	})
	if err != nil {
		t.Fatal(err)
	}
	return site
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	s, path := newTestStore(t)
	const plaintext = "Very-Secret-Database-Password-7f3a"
	site := createSite(t, s, map[string]string{"db_password": plaintext})

	db := rawDB(t, path)
	var blob []byte
	if err := db.QueryRow(`SELECT secrets FROM sites WHERE id = ?`, site.ID).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	if len(blob) == 0 || blob[0] != 0x01 {
		t.Errorf("secrets column does not hold a sealed value: %q", blob)
	}
	if bytes.Contains(blob, []byte(plaintext)) || bytes.Contains(blob, []byte("db_password")) {
		t.Errorf("secrets column holds plaintext: %q", blob)
	}

	// Neither the database file nor its WAL holds the plaintext.
	if _, err := s.writer.ExecContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(plaintext)) {
			t.Errorf("%s contains the plaintext secret", filepath.Base(name))
		}
	}
	// The test is meaningful: the site's domain, not encrypted, is in the file.
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(site.PrimaryDomain)) {
		t.Error("database file does not contain the site's domain; the scan above proves nothing")
	}
}

func TestCertDataEncryptedAtRest(t *testing.T) {
	s, path := newTestStore(t)
	const key = "certificates/acme-v02.api.letsencrypt.org-directory/www.example.com/www.example.com.key"
	plaintext := []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIPrivate-Key-Material-9c2e\n-----END EC PRIVATE KEY-----\n")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.PutCertData(&store.CertData{Key: key, Value: plaintext, ModifyTime: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)})
	})
	if err != nil {
		t.Fatal(err)
	}

	db := rawDB(t, path)
	var blob []byte
	if err := db.QueryRow(`SELECT value FROM cert_data WHERE key = ?`, key).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	if len(blob) == 0 || blob[0] != 0x01 {
		t.Errorf("value column does not hold a sealed value: %q", blob)
	}
	if bytes.Contains(blob, plaintext) || bytes.Contains(blob, []byte("Private-Key-Material")) {
		t.Errorf("value column holds plaintext: %q", blob)
	}

	// The value is bound to its key: copied to another key it does not open.
	other := key + ".copy"
	if _, err := db.Exec(`INSERT INTO cert_data (key, value, modify_time) VALUES (?, ?, 1)`, other, blob); err != nil {
		t.Fatal(err)
	}
	err = s.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.GetCertData(other)
		return err
	})
	if !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("GetCertData of a value copied from another key: %v, want seal.ErrDecrypt", err)
	}
}

// TestSecretsBoundToSite: a sealed value copied to another site does not
// open, and GetSite says so instead of returning wrong secrets.
func TestSecretsBoundToSite(t *testing.T) {
	s, path := newTestStore(t)
	a := createSite(t, s, map[string]string{"db_password": "a"})
	b := createSite(t, s, map[string]string{"db_password": "b"})
	db := rawDB(t, path)
	if _, err := db.Exec(`UPDATE sites SET secrets = (SELECT secrets FROM sites WHERE id = ?) WHERE id = ?`, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	err := s.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.GetSite(b.ID)
		return err
	})
	if !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("GetSite with another site's secrets: %v, want seal.ErrDecrypt", err)
	}
}

func TestWrongKeyCannotReadSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	s := openAt(t, path, testBox(t))
	site := createSite(t, s, map[string]string{"db_password": "x"})
	s.Close()

	other, err := seal.New(bytes.Repeat([]byte{0x43}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path, other)
	err = s2.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.GetSite(site.ID)
		return err
	})
	if !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("GetSite with the wrong key: %v, want seal.ErrDecrypt", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	box := testBox(t)
	s := openAt(t, path, box)
	site := createSite(t, s, map[string]string{"db_password": "kept"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openAt(t, path, box)
	var got *store.Site
	err := s2.View(t.Context(), func(tx store.ReadTx) error {
		var err error
		got, err = tx.GetSite(site.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets["db_password"] != "kept" || got.PrimaryDomain != site.PrimaryDomain {
		t.Errorf("after reopen: %+v", got)
	}
	v, err := schemaVersion(t, path)
	if err != nil || v != len(mustMigrations(t)) {
		t.Errorf("schema version after reopen = %d, %v; want %d", v, err, len(mustMigrations(t)))
	}
}

func mustMigrations(t *testing.T) []migration {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func schemaVersion(t *testing.T, path string) (int, error) {
	var v int
	err := rawDB(t, path).QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v)
	return v, err
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	s := openAt(t, path, testBox(t))
	s.Close()
	known := len(mustMigrations(t))
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations (version, name, apply_time) VALUES (?, 'future.sql', 0)`, known+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), Options{Path: path, Box: testBox(t)})
	want := fmt.Sprintf("database schema version %d is newer than this berthd (%d); upgrade berthd", known+1, known)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open = %v, want an error containing %q", err, want)
	}
}

func TestMigrationsAreNumberedWithoutGaps(t *testing.T) {
	for i, m := range mustMigrations(t) {
		if m.version != i+1 {
			t.Errorf("migration %s has version %d, want %d", m.name, m.version, i+1)
		}
	}
}

func TestPragmas(t *testing.T) {
	s, _ := newTestStore(t)
	tests := []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.writer, "journal_mode", "wal"},
		{s.writer, "synchronous", "2"}, // FULL
		{s.writer, "foreign_keys", "1"},
		{s.writer, "busy_timeout", "10000"},
		{s.reader, "query_only", "1"},
		{s.reader, "foreign_keys", "1"},
		{s.reader, "busy_timeout", "10000"},
	}
	for _, tt := range tests {
		var got string
		if err := tt.db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
		}
	}
}

// TestReadOnlyView: a View cannot write even by reaching behind ReadTx.
func TestReadOnlyView(t *testing.T) {
	s, _ := newTestStore(t)
	err := s.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.(*readTx).exec(`INSERT INTO meta (key, value) VALUES ('k', 'v')`)
		return err
	})
	if err == nil {
		t.Error("a write inside View succeeded")
	}
}

func TestCaseInsensitiveUniqueness(t *testing.T) {
	s, _ := newTestStore(t)
	site := createSite(t, s, nil)
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateUser(&store.User{ID: store.NewID("user", now), Email: "Ops@Example.com", Role: store.RoleAdmin,
			CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		other := *site
		other.ID, other.Name = store.NewID("site", now), "other"
		other.PrimaryDomain = strings.ToUpper(site.PrimaryDomain)
		return tx.CreateSite(&other)
	})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "already used by another site") {
		t.Errorf("site with an upper-case copy of a domain: %v, want a domain conflict", err)
	}
	err = s.Update(t.Context(), func(tx store.Tx) error {
		return tx.CreateUser(&store.User{ID: store.NewID("user", now), Email: "ops@example.COM", Role: store.RoleAdmin,
			CreateTime: now, UpdateTime: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx store.Tx) error {
		return tx.CreateUser(&store.User{ID: store.NewID("user", now), Email: "OPS@example.com", Role: store.RoleAdmin,
			CreateTime: now, UpdateTime: now})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("user with an upper-case copy of an email: %v, want ErrConflict", err)
	}
	err = s.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.GetUserByEmail("OPS@EXAMPLE.COM")
		return err
	})
	if err != nil {
		t.Errorf("GetUserByEmail ignoring case: %v", err)
	}
}

func TestTimeOutOfRange(t *testing.T) {
	s, _ := newTestStore(t)
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.CreateClient(&store.Client{ID: store.NewID("cli", far), Slug: "far", CreateTime: far, UpdateTime: far})
	})
	if err == nil || !strings.Contains(err.Error(), "outside the storable range") {
		t.Errorf("CreateClient in the year 3000: %v, want a range error", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	path := filepath.Join(t.TempDir(), "berth.db")
	s, err := Open(t.Context(), Options{Path: path, Box: testBox(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	_ = s.View(ctx, func(store.ReadTx) error { return nil })
	_ = s.Update(ctx, func(store.Tx) error { return nil })
	_ = s.Update(ctx, func(store.Tx) error { return errors.New("no") })

	count := func(kind, outcome string) uint64 {
		t.Helper()
		var sum uint64
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "berth_store_tx_duration_seconds" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["kind"] == kind && labels["outcome"] == outcome {
					sum += m.GetHistogram().GetSampleCount()
				}
			}
		}
		return sum
	}
	for _, tt := range []struct {
		kind, outcome string
		want          uint64
	}{{"read", "ok", 1}, {"read", "error", 0}, {"write", "ok", 1}, {"write", "error", 1}} {
		if got := count(tt.kind, tt.outcome); got != tt.want {
			t.Errorf("%s/%s transactions = %d, want %d", tt.kind, tt.outcome, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "berth_store_tx_duration_seconds"); n != 4 {
		t.Errorf("%d series, want 4", n)
	}

	// A second store on the same registry shares the histogram.
	s2, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "b.db"), Box: testBox(t), Registerer: reg})
	if err != nil {
		t.Fatalf("second Open on one registry: %v", err)
	}
	s2.Close()
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{
		{Box: testBox(t)},
		{Path: filepath.Join(dir, "a.db")},
		{Path: filepath.Join(dir, "what?.db"), Box: testBox(t)},
	} {
		if s, err := Open(t.Context(), o); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

// Benchmarks run against a store with 10,000 sites.

const preloaded = 10_000

func benchStore(b *testing.B) (*Store, string, []string) {
	b.Helper()
	s, _ := newTestStore(b)
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	c := &store.Client{ID: store.NewID("cli", now), Slug: "bench", CreateTime: now, UpdateTime: now}
	ids := make([]string, preloaded)
	err := s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		for i := range ids {
			site := benchSite(c.ID, i, now)
			ids[i] = site.ID
			if err := tx.CreateSite(site); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, c.ID, ids
}

func benchSite(clientID string, i int, now time.Time) *store.Site {
	return &store.Site{
		ID: store.NewID("site", now), ClientID: clientID, Name: fmt.Sprintf("site-%d", i),
		Kind: store.SiteKindWordPress, PrimaryDomain: fmt.Sprintf("site-%d.example", i),
		AliasDomains: []string{fmt.Sprintf("www.site-%d.example", i)},
		MemoryMiB:    256, CPUMillicores: 500, WPTitle: "Site", WPAdminEmail: "admin@example.com",
		Secrets: map[string]string{"db_password": "0123456789abcdef", "admin_password": "fedcba9876543210"},
		State:   store.SiteStateRunning, Generation: 1, CreateTime: now, UpdateTime: now,
	}
}

// BenchmarkCreateSite: one committed (fsynced) transaction per site.
func BenchmarkCreateSite(b *testing.B) {
	s, clientID, _ := benchStore(b)
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		site := benchSite(clientID, preloaded+i, now)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateSite(site) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkGetSite: one View with one GetSite (decrypting secrets).
func BenchmarkGetSite(b *testing.B) {
	s, _, ids := benchStore(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := ids[i%len(ids)]
		err := s.View(ctx, func(tx store.ReadTx) error {
			_, err := tx.GetSite(id)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "views/s")
}

// BenchmarkGetSiteParallel: Views from many goroutines share the read pool.
func BenchmarkGetSiteParallel(b *testing.B) {
	s, _, ids := benchStore(b)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			id := ids[i%len(ids)]
			i++
			err := s.View(ctx, func(tx store.ReadTx) error {
				_, err := tx.GetSite(id)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "views/s")
}

// BenchmarkListSitesPage: a page of 100 sites of one client.
func BenchmarkListSitesPage(b *testing.B) {
	s, clientID, _ := benchStore(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		err := s.View(ctx, func(tx store.ReadTx) error {
			ss, err := tx.ListSites(store.SiteFilter{ClientID: clientID}, store.Page{Limit: 100})
			if len(ss) != 100 {
				return fmt.Errorf("listed %d sites", len(ss))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
