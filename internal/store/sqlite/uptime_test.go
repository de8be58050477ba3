package sqlite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
)

func TestAlertChannelConfigEncryptedAtRest(t *testing.T) {
	s, path := newTestStore(t)
	const password = "Very-Secret-SMTP-Password-51d0"
	const hook = "https://hooks.slack.example/services/T000/B000/Secret-Hook-Token-8e21"
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	email := &store.AlertChannel{ID: store.NewID("ach", now), Name: "Ops mail", Kind: store.AlertChannelEmail,
		Config: map[string]string{"smtp_address": "smtp.example:587", "smtp_username": "alerts",
			"smtp_password": password, "email_from": "alerts@agency.example", "email_to": "ops@agency.example"},
		CreateTime: now}
	slack := &store.AlertChannel{ID: store.NewID("ach", now), Name: "Ops Slack", Kind: store.AlertChannelSlack,
		Config: map[string]string{"url": hook}, CreateTime: now}
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateAlertChannel(email); err != nil {
			return err
		}
		return tx.CreateAlertChannel(slack)
	})
	if err != nil {
		t.Fatal(err)
	}

	db := rawDB(t, path)
	for _, c := range []*store.AlertChannel{email, slack} {
		var blob []byte
		if err := db.QueryRow(`SELECT config FROM alert_channels WHERE id = ?`, c.ID).Scan(&blob); err != nil {
			t.Fatal(err)
		}
		if len(blob) == 0 || blob[0] != 0x01 {
			t.Errorf("config of %s does not hold a sealed value: %q", c.Name, blob)
		}
		for _, plain := range []string{password, hook, "smtp_password", "url"} {
			if bytes.Contains(blob, []byte(plain)) {
				t.Errorf("config of %s holds %q in plaintext: %q", c.Name, plain, blob)
			}
		}
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
		if bytes.Contains(b, []byte(password)) || bytes.Contains(b, []byte(hook)) {
			t.Errorf("%s contains a plaintext credential", filepath.Base(name))
		}
	}
	// The scan is meaningful: the channel's name, not encrypted, is in the file.
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte(email.Name)) {
		t.Error("database file does not contain the channel's name; the scan above proves nothing")
	}

	// The config is bound to its channel: copied to another, it does not open.
	if _, err := db.Exec(`UPDATE alert_channels SET config = (SELECT config FROM alert_channels WHERE id = ?) WHERE id = ?`,
		email.ID, slack.ID); err != nil {
		t.Fatal(err)
	}
	err = s.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.GetAlertChannel(slack.ID)
		return err
	})
	if !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("GetAlertChannel with another channel's config: %v, want seal.ErrDecrypt", err)
	}
}

// probeBatch is what an agent sends at once: about 10s of results from a
// node that probes 3,000 sites every minute.
const probeBatch = 500

// BenchmarkInsertProbeResults: one committed (fsynced) transaction per batch
// of 500 results, into a store with 10,000 sites.
func BenchmarkInsertProbeResults(b *testing.B) {
	s, _, ids := benchStore(b)
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	rs := make([]store.ProbeResult, probeBatch)
	var seq uint64
	b.ResetTimer()
	for b.Loop() {
		for i := range rs {
			seq++
			rs[i] = store.ProbeResult{
				NodeID: "node_bench", Seq: seq, SiteID: ids[seq%uint64(len(ids))],
				Time: now.Add(time.Duration(seq) * 20 * time.Millisecond), OK: true, StatusCode: 200,
				TotalMS: 84.2, ConnectMS: 1.3, TLSMS: 12.9, FirstByteMS: 70.1,
				CertNotAfter: now.Add(60 * 24 * time.Hour),
			}
			if seq%50 == 0 {
				rs[i].OK, rs[i].StatusCode, rs[i].ErrorClass, rs[i].Error = false, 502, "status", "502 Bad Gateway"
			}
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			n, err := tx.InsertProbeResults(rs)
			if err == nil && n != len(rs) {
				err = errors.New("results were skipped")
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*probeBatch)/b.Elapsed().Seconds(), "results/s")
}
