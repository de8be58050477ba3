package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

func newAlertChannel(clientID string, i int) *store.AlertChannel {
	c := &store.AlertChannel{
		ID:         store.NewID("ach", at(time.Duration(i)*time.Millisecond)),
		ClientID:   clientID,
		Name:       fmt.Sprintf("channel %d", i),
		Kind:       store.AlertChannelWebhook,
		Config:     map[string]string{"url": fmt.Sprintf("https://hooks.example/T%d/secret-token", i)},
		CreateTime: at(time.Duration(i) * time.Second),
	}
	if i%2 == 1 {
		c.Kind = store.AlertChannelEmail
		c.Config = map[string]string{
			"smtp_address":  "smtp.example:587",
			"smtp_username": "alerts",
			"smtp_password": fmt.Sprintf("smtp-password-%d", i),
			"email_from":    "alerts@agency.example",
			"email_to":      "ops@client.example,owner@client.example",
		}
	}
	return c
}

func newAlertDelivery(channelID string, i int) *store.AlertDelivery {
	return &store.AlertDelivery{
		ID:          store.NewID("adl", at(time.Duration(i)*time.Millisecond)),
		ChannelID:   channelID,
		Event:       "incident_opened",
		DedupKey:    fmt.Sprintf("incident_opened/inc_%d", i),
		Subject:     fmt.Sprintf("site-%d.example is down", i),
		Body:        "Since 09:27 UTC: connection timed out from 2 of 3 vantages.",
		State:       store.AlertDeliveryPending,
		NextAttempt: at(time.Duration(i) * time.Second),
		CreateTime:  at(time.Duration(i) * time.Second),
	}
}

func testAlertChannels(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	agency, ofA, ofB, email := newAlertChannel("", 0), newAlertChannel(a.ID, 2), newAlertChannel(b.ID, 4), newAlertChannel(a.ID, 5)
	bare := newAlertChannel(b.ID, 6)
	bare.Config = nil
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateAlertChannel(agency) },
			func() error { return tx.CreateAlertChannel(ofA) },
			func() error { return tx.CreateAlertChannel(ofB) },
			func() error { return tx.CreateAlertChannel(email) },
			func() error { return tx.CreateAlertChannel(bare) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(id string) (*store.AlertChannel, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) (*store.AlertChannel, error) { return tx.GetAlertChannel(id) })
	}
	for _, c := range []*store.AlertChannel{agency, ofA, email, bare} {
		got, err := get(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got, equateEmpty); diff != "" {
			t.Errorf("GetAlertChannel(%s) after create (-want +got):\n%s", c.Name, diff)
		}
	}
	for _, tt := range []struct {
		clientID string
		want     []*store.AlertChannel
	}{
		{a.ID, []*store.AlertChannel{ofA, email}},
		{b.ID, []*store.AlertChannel{ofB, bare}},
		{"", []*store.AlertChannel{agency, ofA, ofB, email, bare}},
		{store.NewID("cli", at(time.Hour)), nil},
	} {
		got := read(t, s, func(tx store.ReadTx) ([]*store.AlertChannel, error) { return tx.ListAlertChannels(tt.clientID) })
		if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
			t.Errorf("ListAlertChannels(%q) (-want +got):\n%s", tt.clientID, diff)
		}
	}

	err := updateErr(t, s, func(tx store.Tx) error { return tx.CreateAlertChannel(ofA) })
	wantErr(t, "CreateAlertChannel with a taken id", err, store.ErrConflict, ofA.ID)
	ghost := store.NewID("cli", at(time.Hour))
	err = updateErr(t, s, func(tx store.Tx) error { return tx.CreateAlertChannel(newAlertChannel(ghost, 7)) })
	wantErr(t, "CreateAlertChannel of a missing client", err, store.ErrNotFound, ghost)

	// Deleting a channel deletes its deliveries.
	kept := newAlertDelivery(ofB.ID, 1)
	deleted := []*store.AlertDelivery{newAlertDelivery(ofA.ID, 2), newAlertDelivery(ofA.ID, 3)}
	update(t, s, func(tx store.Tx) error {
		for _, d := range append(deleted, kept) {
			if err := tx.CreateAlertDelivery(d); err != nil {
				return err
			}
		}
		return tx.DeleteAlertChannel(ofA.ID)
	})
	_, err = get(ofA.ID)
	wantErr(t, "GetAlertChannel after delete", err, store.ErrNotFound, ofA.ID)
	for _, d := range deleted {
		_, err := read2(t, s, func(tx store.ReadTx) (*store.AlertDelivery, error) { return tx.GetAlertDelivery(d.ID) })
		wantErr(t, "GetAlertDelivery of a deleted channel", err, store.ErrNotFound)
	}
	if _, err := read2(t, s, func(tx store.ReadTx) (*store.AlertDelivery, error) { return tx.GetAlertDelivery(kept.ID) }); err != nil {
		t.Errorf("GetAlertDelivery of another channel: %v", err)
	}
	err = updateErr(t, s, func(tx store.Tx) error { return tx.DeleteAlertChannel(ofA.ID) })
	wantErr(t, "DeleteAlertChannel of a missing channel", err, store.ErrNotFound, ofA.ID)
}

func testAlertDeliveries(t *testing.T, s store.Store) {
	c := newClient(1)
	one, two := newAlertChannel(c.ID, 1), newAlertChannel("", 2)
	d := newAlertDelivery(one.ID, 1)
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(c) },
			func() error { return tx.CreateAlertChannel(one) },
			func() error { return tx.CreateAlertChannel(two) },
			func() error { return tx.CreateAlertDelivery(d) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(id string) (*store.AlertDelivery, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) (*store.AlertDelivery, error) { return tx.GetAlertDelivery(id) })
	}
	got, err := get(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("GetAlertDelivery after create (-want +got):\n%s", diff)
	}

	// The dedup key is unique per channel.
	dup := newAlertDelivery(one.ID, 2)
	dup.DedupKey = d.DedupKey
	err = updateErr(t, s, func(tx store.Tx) error { return tx.CreateAlertDelivery(dup) })
	wantErr(t, "CreateAlertDelivery with a taken dedup key", err, store.ErrConflict, d.DedupKey)
	if _, err := get(dup.ID); err == nil {
		t.Error("a refused duplicate delivery was stored")
	}
	elsewhere := newAlertDelivery(two.ID, 3)
	elsewhere.DedupKey = d.DedupKey
	noKey1, noKey2 := newAlertDelivery(one.ID, 4), newAlertDelivery(one.ID, 5)
	noKey1.DedupKey, noKey2.DedupKey = "", ""
	update(t, s, func(tx store.Tx) error {
		for _, d := range []*store.AlertDelivery{elsewhere, noKey1, noKey2} {
			if err := tx.CreateAlertDelivery(d); err != nil {
				return fmt.Errorf("CreateAlertDelivery(%q on %s): %w", d.DedupKey, d.ChannelID, err)
			}
		}
		return nil
	})
	err = updateErr(t, s, func(tx store.Tx) error { return tx.CreateAlertDelivery(d) })
	wantErr(t, "CreateAlertDelivery with a taken id", err, store.ErrConflict)
	ghost := newAlertDelivery(store.NewID("ach", at(time.Hour)), 6)
	err = updateErr(t, s, func(tx store.Tx) error { return tx.CreateAlertDelivery(ghost) })
	wantErr(t, "CreateAlertDelivery to a missing channel", err, store.ErrNotFound, ghost.ChannelID)

	// Update replaces everything but ID and CreateTime.
	failed := *d
	failed.Attempts, failed.LastError, failed.NextAttempt = 1, "POST https://hooks.example: 502 Bad Gateway", at(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateAlertDelivery(&failed) })
	delivered := failed
	delivered.State, delivered.Attempts, delivered.LastError = store.AlertDeliveryDelivered, 2, ""
	delivered.NextAttempt, delivered.DeliverTime = time.Time{}, at(time.Hour+time.Second)
	ignored := delivered
	ignored.CreateTime = at(-time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateAlertDelivery(&ignored) })
	if got, err = get(d.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&delivered, got); diff != "" {
		t.Errorf("GetAlertDelivery after updates (-want +got):\n%s", diff)
	}
	clash := *noKey1
	clash.DedupKey = d.DedupKey
	err = updateErr(t, s, func(tx store.Tx) error { return tx.UpdateAlertDelivery(&clash) })
	wantErr(t, "UpdateAlertDelivery to a taken dedup key", err, store.ErrConflict, d.DedupKey)
	err = updateErr(t, s, func(tx store.Tx) error { return tx.UpdateAlertDelivery(dup) })
	wantErr(t, "UpdateAlertDelivery of a missing delivery", err, store.ErrNotFound, dup.ID)
}

func testDueAlertDeliveries(t *testing.T, s store.Store) {
	ch := newAlertChannel("", 1)
	now := at(time.Hour)
	var due []string // in creation order
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateAlertChannel(ch); err != nil {
			return err
		}
		// Ids are not in creation order; next attempts are not either.
		for i := range listed {
			d := newAlertDelivery(ch.ID, listed-i)
			d.CreateTime = at(time.Duration(i) * time.Minute)
			d.NextAttempt = at(time.Duration((i*7)%listed) * 5 * time.Minute)
			switch {
			case i%6 == 0:
				d.State = store.AlertDeliveryDelivered
			case i%6 == 1:
				d.State = store.AlertDeliveryFailed
			case i == 8:
				d.NextAttempt = time.Time{} // at once
				due = append(due, d.ID)
			case !d.NextAttempt.After(now):
				due = append(due, d.ID)
			}
			if err := tx.CreateAlertDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	if len(due) < 4 {
		t.Fatalf("fixture has %d due deliveries; the test needs more", len(due))
	}
	list := func(now time.Time, limit int) []string {
		t.Helper()
		ds := read(t, s, func(tx store.ReadTx) ([]*store.AlertDelivery, error) { return tx.DueAlertDeliveries(now, limit) })
		var ids []string
		for _, d := range ds {
			if d.State != store.AlertDeliveryPending {
				t.Errorf("due delivery %s is %s", d.ID, d.State)
			}
			ids = append(ids, d.ID)
		}
		return ids
	}
	checkIDs(t, "DueAlertDeliveries", list(now, 100), due)
	checkIDs(t, "DueAlertDeliveries limit 3", list(now, 3), due[:3])
	checkIDs(t, "DueAlertDeliveries limit 0", list(now, 0), due)
	// Before every next attempt, only the delivery due at once is due.
	if got := list(at(-time.Hour), 100); len(got) != 1 {
		t.Errorf("DueAlertDeliveries before every next attempt = %v, want only the one due at once", got)
	}
}

func testPaginateAlertDeliveries(t *testing.T, s store.Store) {
	one, two := newAlertChannel("", 1), newAlertChannel("", 2)
	var ofOne, all []string
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateAlertChannel(one); err != nil {
			return err
		}
		if err := tx.CreateAlertChannel(two); err != nil {
			return err
		}
		for _, i := range []int{3, 0, 6, 1, 5, 2, 4, 9, 8, 7, 10, 12, 11} {
			ch := one
			if i%3 == 0 {
				ch = two
			}
			d := newAlertDelivery(ch.ID, i)
			if ch == one {
				ofOne = append(ofOne, d.ID)
			}
			all = append(all, d.ID)
			if err := tx.CreateAlertDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tt := range []struct {
		channelID string
		want      []string
	}{{one.ID, ofOne}, {"", all}} {
		for _, limit := range []int{1, 4, 100} {
			got := pageAll(t, s, limit, func(d *store.AlertDelivery) string { return d.ID },
				func(tx store.ReadTx, p store.Page) ([]*store.AlertDelivery, error) {
					return tx.ListAlertDeliveries(tt.channelID, p)
				})
			checkIDs(t, fmt.Sprintf("ListAlertDeliveries(%q) limit %d", tt.channelID, limit), got, sorted(tt.want, true))
		}
	}
}

// testDeleteClientDeletesAlertChannels: a client's channels go with it,
// their deliveries too; the agency's and other clients' stay.
func testDeleteClientDeletesAlertChannels(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	ofA, ofB, agency := newAlertChannel(a.ID, 1), newAlertChannel(b.ID, 2), newAlertChannel("", 3)
	d := newAlertDelivery(ofA.ID, 1)
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateAlertChannel(ofA) },
			func() error { return tx.CreateAlertChannel(ofB) },
			func() error { return tx.CreateAlertChannel(agency) },
			func() error { return tx.CreateAlertDelivery(d) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteClient(a.ID) })
	view(t, s, func(tx store.ReadTx) error {
		_, err := tx.GetAlertChannel(ofA.ID)
		wantErr(t, "GetAlertChannel of a deleted client", err, store.ErrNotFound)
		_, err = tx.GetAlertDelivery(d.ID)
		wantErr(t, "GetAlertDelivery of a deleted client's channel", err, store.ErrNotFound)
		cs, err := tx.ListAlertChannels("")
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		checkIDs(t, "ListAlertChannels after DeleteClient", ids, []string{ofB.ID, agency.ID})
		return nil
	})
}
