package api_test

import (
	"slices"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// TestListMaintenanceWindows checks which windows each filter lists, for
// admins and clients: a client's list holds the windows of its sites, and
// never another client's.
func TestListMaintenanceWindows(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s) // f.a.windowID is on A's site, starting now
	now := time.Now().UTC()
	aClient, bSite := store.NewID("mw", now.Add(time.Millisecond)), store.NewID("mw", now.Add(2*time.Millisecond))
	s.update(t, func(tx store.Tx) error {
		if err := tx.CreateMaintenanceWindow(&store.MaintenanceWindow{ID: aClient, ClientID: f.a.clientID,
			Start: now.Add(-time.Hour), End: now.Add(2 * time.Hour), Reason: "datacentre move", CreatedBy: "test", CreateTime: now}); err != nil {
			return err
		}
		return tx.CreateMaintenanceWindow(&store.MaintenanceWindow{ID: bSite, SiteID: f.b.siteID,
			Start: now, End: now.Add(time.Hour), Reason: "upgrade", CreatedBy: "test", CreateTime: now})
	})
	uptime := berthv1.NewUptimeServiceClient(s.conn)
	for _, c := range []struct {
		who              string
		clientID, siteID string
		want             []string
	}{
		{clientA, "", "", []string{aClient, f.a.windowID}},
		{clientA, f.a.clientID, "", []string{aClient, f.a.windowID}},
		{clientA, "", f.a.siteID, []string{aClient, f.a.windowID}},
		{clientB, "", "", []string{bSite}},
		{admin, f.b.clientID, "", []string{bSite}},
		{admin, "", f.b.siteID, []string{bSite}},
		{admin, "", "", []string{aClient, f.a.windowID, bSite}},
	} {
		resp, err := uptime.ListMaintenanceWindows(as(t, f.tokens[c.who]),
			&berthv1.ListMaintenanceWindowsRequest{ClientId: c.clientID, SiteId: c.siteID})
		if err != nil {
			t.Errorf("%s, client %q, site %q: %v", c.who, c.clientID, c.siteID, err)
			continue
		}
		var got []string
		for _, w := range resp.GetWindows() {
			got = append(got, w.GetId())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s, client %q, site %q: windows %v, want %v", c.who, c.clientID, c.siteID, got, c.want)
		}
	}
}
