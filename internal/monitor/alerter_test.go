package monitor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fixaroo/berth/internal/alerts"
	"github.com/fixaroo/berth/internal/fleet"
	"github.com/fixaroo/berth/internal/store"
)

// payload is the generic webhook's JSON body as a receiver reads it.
type payload struct {
	Event   string            `json:"event"`
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	Time    string            `json:"time"`
	Fields  map[string]string `json:"fields"`
}

// webhook is a real HTTP alert receiver. It answers the first len(fail)
// requests with those statuses, then 200, and records every request.
type webhook struct {
	*httptest.Server

	mu   sync.Mutex // guards the fields below
	fail []int
	all  []payload
}

func startWebhook(t *testing.T, fail ...int) *webhook {
	t.Helper()
	w := &webhook{fail: fail}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var p payload
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		w.mu.Lock()
		w.all = append(w.all, p)
		status := http.StatusOK
		if len(w.fail) > 0 {
			status, w.fail = w.fail[0], w.fail[1:]
		}
		w.mu.Unlock()
		rw.WriteHeader(status)
	}))
	t.Cleanup(w.Close)
	return w
}

// received returns every request so far, ordered by event and subject.
func (w *webhook) received() []payload {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]payload(nil), w.all...)
	sortPayloads(out)
	return out
}

func sortPayloads(ps []payload) {
	slices.SortFunc(ps, func(a, b payload) int { return strings.Compare(a.Event+a.Subject, b.Event+b.Subject) })
}

// ticks stands in for the Alerter's tickers: a test sends on them, and a
// send returns only once Run's loop has taken the tick, that is, after
// the work of every earlier tick is done.
type ticks struct {
	mu sync.Mutex // guards byPeriod
	// byPeriod holds one unbuffered channel per period asked for.
	byPeriod map[time.Duration]chan time.Time
}

func (tk *ticks) newTicker(d time.Duration) (<-chan time.Time, func()) {
	return tk.ch(d), func() {}
}

func (tk *ticks) ch(d time.Duration) chan time.Time {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.byPeriod == nil {
		tk.byPeriod = map[time.Duration]chan time.Time{}
	}
	if tk.byPeriod[d] == nil {
		tk.byPeriod[d] = make(chan time.Time)
	}
	return tk.byPeriod[d]
}

// tick sends one tick of period d and fails the test if Run does not take
// it within 10 s.
func (tk *ticks) tick(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case tk.ch(d) <- time.Time{}:
	case <-time.After(10 * time.Second):
		t.Fatalf("the Alerter's loop did not take a %v tick", d)
	}
}

// runAlerter starts a.Run and stops it when the test ends.
func runAlerter(t *testing.T, a *Alerter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Alerter.Run: %v", err)
		}
	})
}

// webhookChannel is the sendable form of a stored webhook channel
// (AlertChannel does the same for every kind).
func webhookChannel(c *store.AlertChannel) alerts.Channel {
	return alerts.Channel{ID: c.ID, ClientID: c.ClientID, Name: c.Name, Kind: c.Kind, URL: c.Config["url"]}
}

func createWebhookChannel(tx store.Tx, id, clientID, url string, at time.Time) error {
	return tx.CreateAlertChannel(&store.AlertChannel{ID: id, ClientID: clientID, Name: id, Kind: store.AlertChannelWebhook,
		Config: map[string]string{"url": url}, CreateTime: at})
}

func deliveries(t *testing.T, st store.Store) []*store.AlertDelivery {
	t.Helper()
	var ds []*store.AlertDelivery
	err := st.View(context.Background(), func(tx store.ReadTx) (err error) {
		ds, err = tx.ListAlertDeliveries("", store.Page{Limit: 100})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestAlerterFleetAlerts drives node and certificate alerts end to end: a
// node whose heartbeats stopped is marked NOT_READY by the fleet, a site's
// node reports one certificate failing and one expiring, and on its fleet
// tick the Alerter raises the alerts and posts them to real webhook
// receivers: the node's to the agency's channel only, the certificates' to
// the agency's and the site's client's, none to another client's. A second
// fleet check of the same episodes sends nothing more.
func TestAlerterFleetAlerts(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	agency, client, other := startWebhook(t), startWebhook(t), startWebhook(t)
	lastBeat := t0.Add(-5 * time.Minute)
	expires := t0.Add(7 * 24 * time.Hour)
	failedAt := t0.Add(-time.Hour)
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := createSites(tx, t0, "site_1"); err != nil {
			return err
		}
		if err := tx.CreateClient(&store.Client{ID: "cl_2", DisplayName: "Two", Slug: "two", ContactEmail: "a@two.test", CreateTime: t0, UpdateTime: t0}); err != nil {
			return err
		}
		if err := tx.CreateNode(&store.Node{ID: "node_a", Name: "node-a", State: store.NodeStateReady, MemoryMiB: 4096, CPUMillicores: 4000,
			DiskMiB: 10240, LastHeartbeatTime: lastBeat, CreateTime: t0.Add(-time.Hour)}); err != nil {
			return err
		}
		s, err := tx.GetSite("site_1")
		if err != nil {
			return err
		}
		s.AliasDomains = []string{"www.site_1.one.test"}
		s.Certificates = []store.CertificateStatus{
			{Domain: "site_1.one.test", Issuer: "acme:ca.example", LastAttempt: failedAt, LastError: "rateLimited: too many certificates", Managed: true},
			{Domain: "www.site_1.one.test", Issuer: "acme:ca.example", NotAfter: expires, LastAttempt: failedAt, Managed: true},
		}
		if err := tx.UpdateSite(s); err != nil {
			return err
		}
		for _, c := range []struct{ id, client, url string }{{"ch_agency", "", agency.URL}, {"ch_client", "cl_1", client.URL}, {"ch_other", "cl_2", other.URL}} {
			if err := createWebhookChannel(tx, c.id, c.client, c.url+"/hook", t0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The node's last heartbeat is older than the fleet's grace period.
	if err := fleet.New(fleet.Options{Store: st, Now: clk.Now}).Pass(ctx); err != nil {
		t.Fatal(err)
	}

	tk := &ticks{}
	a := NewAlerter(Alerter{Store: st, Sender: &alerts.Sender{}, Channel: webhookChannel, Now: clk.Now,
		Log: slog.New(slog.DiscardHandler), NewTicker: tk.newTicker})
	runAlerter(t, a)
	tk.tick(t, checkFleetEvery)
	tk.tick(t, deliverEvery) // the fleet check and its deliveries are done

	at := t0.Format(time.RFC3339)
	nodeAlert := payload{Event: alerts.EventNodeNotReady, Subject: "NODE NOT READY: node-a", Time: at,
		Text:   "Node node-a has sent no heartbeat since 2026-11-28 09:55 UTC; its sites are judged by their other vantage points.",
		Fields: map[string]string{"node_id": "node_a", "node": "node-a", "last_heartbeat": lastBeat.Format(time.RFC3339)}}
	failing := payload{Event: alerts.EventCertificateFailing, Subject: "CERTIFICATE FAILING: site_1.one.test", Time: at,
		Text: "The certificate of site_1.one.test could not be obtained or renewed: rateLimited: too many certificates",
		Fields: map[string]string{"site_id": "site_1", "client_id": "cl_1", "domain": "site_1.one.test", "issuer": "acme:ca.example",
			"error": "rateLimited: too many certificates"}}
	expiring := payload{Event: alerts.EventCertificateExpiring, Subject: "CERTIFICATE EXPIRING: www.site_1.one.test", Time: at,
		Text: "The certificate of www.site_1.one.test expires on 2026-12-05 10:00 UTC and has not been renewed yet.",
		Fields: map[string]string{"site_id": "site_1", "client_id": "cl_1", "domain": "www.site_1.one.test", "issuer": "acme:ca.example",
			"not_after": expires.Format(time.RFC3339)}}
	want := map[string][]payload{
		"agency":      {expiring, failing, nodeAlert},
		"client cl_1": {expiring, failing},
		"client cl_2": nil,
	}
	check := func(step string) {
		t.Helper()
		for name, w := range map[string]*webhook{"agency": agency, "client cl_1": client, "client cl_2": other} {
			if diff := cmp.Diff(want[name], w.received(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: the %s channel's receiver got (-want +got):\n%s", step, name, diff)
			}
		}
		for _, d := range deliveries(t, st) {
			if d.State != store.AlertDeliveryDelivered || d.Attempts != 1 || !d.DeliverTime.Equal(t0) {
				t.Errorf("%s: delivery %s (%s to %s) is %s after %d attempts, delivered %v; want delivered at once",
					step, d.ID, d.Event, d.ChannelID, d.State, d.Attempts, d.DeliverTime)
			}
		}
	}
	check("first fleet check")

	// A minute later the node is still down and the certificates unchanged:
	// the same episodes, nothing new to send.
	clk.Set(t0.Add(time.Minute))
	tk.tick(t, checkFleetEvery)
	tk.tick(t, deliverEvery)
	check("second fleet check")
	if n := len(deliveries(t, st)); n != 5 {
		t.Errorf("%d deliveries stored after two checks, want 5", n)
	}
}

// TestAlerterRetriesWithBackoff has a receiver fail twice with 500 and then
// accept: the Alerter's loop tries again only when the backoff has passed
// (10 s after the first failure, 30 s after the second), delivers the same
// alert on the third attempt and never sends it again.
func TestAlerterRetriesWithBackoff(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	rc := startWebhook(t, http.StatusInternalServerError, http.StatusInternalServerError)
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := createSites(tx, t0); err != nil {
			return err
		}
		return createWebhookChannel(tx, "ch_1", "cl_1", rc.URL, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	tk := &ticks{}
	a := NewAlerter(Alerter{Store: st, Sender: &alerts.Sender{}, Channel: webhookChannel, Now: clk.Now,
		Log: slog.New(slog.DiscardHandler), NewTicker: tk.newTicker})
	alert := alerts.Alert{Event: alerts.EventIncidentOpened, Subject: "DOWN: site_1.one.test (One)", Text: "down", Time: t0,
		Fields: map[string]string{"site_id": "site_1"}}
	if err := a.Raise(ctx, "cl_1", "incident.opened:inc_1", alert); err != nil {
		t.Fatal(err)
	}
	runAlerter(t, a) // its first pass makes the first attempt, at t0

	// at moves the clock and lets the loop finish a pass at that time.
	at := func(d time.Duration) {
		t.Helper()
		clk.Set(t0.Add(d))
		tk.tick(t, deliverEvery) // starts a pass at t0+d
		tk.tick(t, deliverEvery) // returns once it is done
	}
	steps := []struct {
		at       time.Duration
		requests int
		state    string
		next     time.Duration // of a pending delivery
	}{
		{0, 1, store.AlertDeliveryPending, 10 * time.Second},
		{9 * time.Second, 1, store.AlertDeliveryPending, 10 * time.Second},
		{10 * time.Second, 2, store.AlertDeliveryPending, 40 * time.Second},
		{39 * time.Second, 2, store.AlertDeliveryPending, 40 * time.Second},
		{40 * time.Second, 3, store.AlertDeliveryDelivered, 0},
		{3 * time.Hour, 3, store.AlertDeliveryDelivered, 0},
	}
	for _, s := range steps {
		at(s.at)
		got := rc.received()
		if len(got) != s.requests {
			t.Fatalf("t0+%v: the receiver got %d requests, want %d", s.at, len(got), s.requests)
		}
		ds := deliveries(t, st)
		if len(ds) != 1 {
			t.Fatalf("t0+%v: %d deliveries, want 1", s.at, len(ds))
		}
		d := ds[0]
		if d.State != s.state || d.Attempts != int32(s.requests) {
			t.Errorf("t0+%v: delivery %s after %d attempts, want %s after %d", s.at, d.State, d.Attempts, s.state, s.requests)
		}
		switch s.state {
		case store.AlertDeliveryPending:
			if !d.NextAttempt.Equal(t0.Add(s.next)) || !strings.Contains(d.LastError, "500") {
				t.Errorf("t0+%v: next attempt at t0+%v after error %q, want t0+%v after a 500", s.at, d.NextAttempt.Sub(t0), d.LastError, s.next)
			}
		case store.AlertDeliveryDelivered:
			if !d.DeliverTime.Equal(t0.Add(40*time.Second)) || d.LastError != "" {
				t.Errorf("t0+%v: delivered at t0+%v with error %q, want at t0+40s with none", s.at, d.DeliverTime.Sub(t0), d.LastError)
			}
		}
	}
	want := payload{Event: alert.Event, Subject: alert.Subject, Text: alert.Text, Time: t0.Format(time.RFC3339), Fields: alert.Fields}
	for i, p := range rc.received() {
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("attempt %d posted (-want +got):\n%s", i+1, diff)
		}
	}
}
