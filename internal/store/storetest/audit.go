package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

const (
	createSite   = "/berth.v1.SiteService/CreateSite"
	createClient = "/berth.v1.ClientService/CreateClient"
)

// auditEvents appends listed events a minute apart; every third failed.
func auditEvents(t *testing.T, s store.Store) (events []*store.AuditEvent, clientA, siteX string) {
	t.Helper()
	clientA, clientB := store.NewID("cli", base), store.NewID("cli", at(time.Millisecond))
	siteX = store.NewID("site", base)
	update(t, s, func(tx store.Tx) error {
		for i := range listed {
			when := at(time.Duration(i) * time.Minute)
			e := &store.AuditEvent{
				ID:         store.NewID("aud", when),
				Time:       when,
				Actor:      "user_admin",
				Method:     createClient,
				ResourceID: store.NewID("cli", when),
				ClientID:   clientB,
				Code:       "OK",
				Peer:       "192.0.2.7:51234",
			}
			if i%2 == 0 {
				e.Method, e.ResourceID, e.ClientID = createSite, store.NewID("site", when), clientA
			}
			if i%5 == 0 {
				e.ResourceID = siteX
			}
			if i%3 == 0 {
				e.Code, e.Message = "PermissionDenied", fmt.Sprintf("denied %d", i)
			}
			events = append(events, e)
			if err := tx.AppendAuditEvent(e); err != nil {
				return err
			}
		}
		return nil
	})
	return events, clientA, siteX
}

func testAuditList(t *testing.T, s store.Store) {
	events, _, _ := auditEvents(t, s)
	var want []string
	for _, e := range events {
		want = append(want, e.ID)
	}
	got := pageAll(t, s, pageSize, func(e *store.AuditEvent) string { return e.ID },
		func(tx store.ReadTx, p store.Page) ([]*store.AuditEvent, error) {
			return tx.ListAuditEvents(store.AuditFilter{}, p)
		})
	checkIDs(t, "ListAuditEvents (newest first)", got, sorted(want, true))

	first := read(t, s, func(tx store.ReadTx) ([]*store.AuditEvent, error) {
		return tx.ListAuditEvents(store.AuditFilter{}, store.Page{Limit: 1})
	})
	if diff := cmp.Diff([]*store.AuditEvent{events[len(events)-1]}, first); diff != "" {
		t.Errorf("newest event (-want +got):\n%s", diff)
	}
}

func testAuditFilter(t *testing.T, s store.Store) {
	events, clientA, siteX := auditEvents(t, s)
	start, end := at(5*time.Minute), at(15*time.Minute)
	tests := []struct {
		name  string
		f     store.AuditFilter
		match func(e *store.AuditEvent) bool
	}{
		{"method full name", store.AuditFilter{Method: createSite},
			func(e *store.AuditEvent) bool { return e.Method == createSite }},
		{"method final element", store.AuditFilter{Method: "CreateClient"},
			func(e *store.AuditEvent) bool { return e.Method == createClient }},
		{"method part of an element", store.AuditFilter{Method: "Client"},
			func(e *store.AuditEvent) bool { return false }},
		{"resource", store.AuditFilter{ResourceID: siteX},
			func(e *store.AuditEvent) bool { return e.ResourceID == siteX }},
		{"client", store.AuditFilter{ClientID: clientA},
			func(e *store.AuditEvent) bool { return e.ClientID == clientA }},
		{"failed only", store.AuditFilter{FailedOnly: true},
			func(e *store.AuditEvent) bool { return e.Code != "OK" }},
		{"time range", store.AuditFilter{Start: start, End: end},
			func(e *store.AuditEvent) bool { return !e.Time.Before(start) && e.Time.Before(end) }},
		{"since", store.AuditFilter{Start: start},
			func(e *store.AuditEvent) bool { return !e.Time.Before(start) }},
		{"combined", store.AuditFilter{Method: "CreateSite", ClientID: clientA, FailedOnly: true, End: end},
			func(e *store.AuditEvent) bool {
				return strings.HasSuffix(e.Method, "/CreateSite") && e.ClientID == clientA && e.Code != "OK" && e.Time.Before(end)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, e := range events {
				if tt.match(e) {
					want = append(want, e.ID)
				}
			}
			// Pages of 3 also check that After composes with the filter.
			got := pageAll(t, s, 3, func(e *store.AuditEvent) string { return e.ID },
				func(tx store.ReadTx, p store.Page) ([]*store.AuditEvent, error) { return tx.ListAuditEvents(tt.f, p) })
			checkIDs(t, "ListAuditEvents", got, sorted(want, true))
		})
	}
}

func testAuditPrune(t *testing.T, s store.Store) {
	events, _, _ := auditEvents(t, s)
	cut := at(10 * time.Minute)
	var n int
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneAuditEvents(cut)
		return err
	})
	var want []string
	for _, e := range events {
		if !e.Time.Before(cut) {
			want = append(want, e.ID)
		}
	}
	if n != len(events)-len(want) {
		t.Errorf("PruneAuditEvents = %d, want %d", n, len(events)-len(want))
	}
	got := pageAll(t, s, 100, func(e *store.AuditEvent) string { return e.ID },
		func(tx store.ReadTx, p store.Page) ([]*store.AuditEvent, error) {
			return tx.ListAuditEvents(store.AuditFilter{}, p)
		})
	checkIDs(t, "after prune", got, sorted(want, true))
}
