package uptime

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// minute returns the start of minute i, counted from t0.
func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// timeline turns a string into minutes, one character per minute from t0:
// U up, G degraded, D down (class "timeout", vantage "a"), N no data,
// M maintenance, and '.' a missing minute (no entry at all).
func timeline(t *testing.T, s string) []Minute {
	t.Helper()
	status := map[rune]Status{'U': StatusUp, 'G': StatusDegraded, 'D': StatusDown, 'N': StatusNoData, 'M': StatusMaintenance}
	var ms []Minute
	for i, c := range s {
		if c == '.' {
			continue
		}
		st, ok := status[c]
		if !ok {
			t.Fatalf("timeline %q: unknown minute %q", s, c)
		}
		m := Minute{Start: minute(i), Status: st}
		if st == StatusDown {
			m.ErrorClasses, m.FailedVantages = []string{"timeout"}, []string{"a"}
		}
		ms = append(ms, m)
	}
	return ms
}

// feed steps through minutes from the zero state and returns the final state
// and every event, each tagged with the index of the minute that caused it.
func feed(minutes []Minute, k int) (TrackerState, []taggedEvent) {
	var st TrackerState
	var events []taggedEvent
	for _, m := range minutes {
		var evs []Event
		st, evs = Step(st, m, k)
		for _, e := range evs {
			events = append(events, taggedEvent{At: int(m.Start.Sub(t0) / time.Minute), Event: e})
		}
	}
	return st, events
}

type taggedEvent struct {
	At    int // the minute that caused the event
	Event Event
}

func opened(at, start int) taggedEvent {
	return taggedEvent{at, Event{EventOpened, Incident{Start: minute(start), ErrorClasses: []string{"timeout"}, Vantages: []string{"a"}}}}
}

func resolved(at, start, end int) taggedEvent {
	return taggedEvent{at, Event{EventResolved, Incident{Start: minute(start), End: minute(end), ErrorClasses: []string{"timeout"}, Vantages: []string{"a"}}}}
}

func TestStep(t *testing.T) {
	tests := []struct {
		name     string
		timeline string
		k        int
		want     []taggedEvent
		wantOpen bool
	}{
		{name: "one down minute opens nothing", timeline: "UDU", k: 2},
		{name: "opens exactly at K=2, starting at the first down minute", timeline: "UDD", k: 2,
			want: []taggedEvent{opened(2, 1)}, wantOpen: true},
		{name: "K=3: two down minutes open nothing", timeline: "DDU", k: 3},
		{name: "K=3: opens at the third", timeline: "UUDDDD", k: 3,
			want: []taggedEvent{opened(4, 2)}, wantOpen: true},
		{name: "K=1 opens and resolves on one minute", timeline: "DU", k: 1,
			want: []taggedEvent{opened(0, 0), resolved(1, 0, 1)}},
		{name: "k<1 means DefaultK=2", timeline: "DUDD", k: 0,
			want: []taggedEvent{opened(3, 2)}, wantOpen: true},
		{name: "flapping down/up never opens with K=2", timeline: "DUDUDUDUD", k: 2},
		{name: "resolves after K up minutes, end is the first of them", timeline: "DDUU", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(3, 0, 2)}},
		{name: "one up minute does not resolve; a down minute restarts the count", timeline: "DDUDUU", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(5, 0, 4)}},
		{name: "a long incident", timeline: "UDDDDDDDDDUUUUU", k: 2,
			want: []taggedEvent{opened(2, 1), resolved(11, 1, 10)}},
		{name: "degraded breaks a down run", timeline: "DGDGDG", k: 2},
		{name: "degraded counts as not down when resolving", timeline: "DDGG", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(3, 0, 2)}},
		{name: "degraded then up resolves", timeline: "DDGU", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(3, 0, 2)}},
		{name: "no data inside a down run neither breaks nor counts", timeline: "DNND", k: 2,
			want: []taggedEvent{opened(3, 0)}, wantOpen: true},
		{name: "no data alone opens nothing", timeline: "NNNNNN", k: 2},
		{name: "no data never resolves", timeline: "DDNNNNNNNN", k: 2,
			want: []taggedEvent{opened(1, 0)}, wantOpen: true},
		{name: "no data inside the resolving run neither breaks nor counts", timeline: "DDUNNU", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(5, 0, 2)}},
		{name: "missing minutes are no data: down run", timeline: "D....D", k: 2,
			want: []taggedEvent{opened(5, 0)}, wantOpen: true},
		{name: "missing minutes are no data: resolving run", timeline: "DDU...U", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(6, 0, 2)}},
		{name: "missing minutes never resolve", timeline: "DD.......", k: 2,
			want: []taggedEvent{opened(1, 0)}, wantOpen: true},
		{name: "maintenance in the middle of an incident keeps it open", timeline: "DDMMMUU", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(6, 0, 5)}},
		{name: "maintenance inside the resolving run neither breaks nor counts", timeline: "DDUMU", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(4, 0, 2)}},
		{name: "maintenance inside a down run neither breaks nor counts", timeline: "DMD", k: 2,
			want: []taggedEvent{opened(2, 0)}, wantOpen: true},
		{name: "down minutes in maintenance open nothing", timeline: "MMMMUU", k: 2},
		{name: "two incidents", timeline: "DDUUDDDUU", k: 2,
			want: []taggedEvent{opened(1, 0), resolved(3, 0, 2), opened(5, 4), resolved(8, 4, 7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, got := feed(timeline(t, tt.timeline), tt.k)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: events mismatch (-want +got):\n%s", tt.timeline, diff)
			}
			if (st.Open != nil) != tt.wantOpen {
				t.Errorf("%s: open = %v, want %v", tt.timeline, st.Open != nil, tt.wantOpen)
			}
		})
	}
}

func TestStepIgnoresRepeatedAndOlderMinutes(t *testing.T) {
	var st TrackerState
	steps := []struct {
		m    Minute
		want []Event
	}{
		{Minute{Start: minute(10), Status: StatusDown}, nil},
		{Minute{Start: minute(10), Status: StatusDown}, nil}, // repeated: must not make a run of 2
		{Minute{Start: minute(9), Status: StatusDown}, nil},  // older
		{Minute{Start: minute(11), Status: StatusDown}, []Event{{EventOpened, Incident{Start: minute(10)}}}},
		{Minute{Start: minute(12), Status: StatusUp}, nil},
		{Minute{Start: minute(12).Add(30 * time.Second), Status: StatusUp}, nil}, // same minute, later second
		{Minute{Start: minute(5), Status: StatusUp}, nil},
		{Minute{Start: minute(13), Status: StatusUp}, []Event{{EventResolved, Incident{Start: minute(10), End: minute(12)}}}},
	}
	for i, s := range steps {
		before := st
		var got []Event
		st, got = Step(st, s.m, 2)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("step %d (%v %v): events mismatch (-want +got):\n%s", i, s.m.Start.Format("15:04:05"), s.m.Status, diff)
		}
		if !before.Last.IsZero() && !s.m.Start.Truncate(time.Minute).After(before.Last) {
			if diff := cmp.Diff(before, st); diff != "" {
				t.Errorf("step %d: ignored minute changed the state (-before +after):\n%s", i, diff)
			}
		}
	}
	if st.Last != minute(13) {
		t.Errorf("Last = %v, want %v", st.Last, minute(13))
	}
}

func TestStepAccumulatesErrorClassesAndVantages(t *testing.T) {
	minutes := []Minute{
		{Start: minute(0), Status: StatusDown, ErrorClasses: []string{"timeout"}, FailedVantages: []string{"b", "a"}},
		{Start: minute(1), Status: StatusDown, ErrorClasses: []string{"dns"}, FailedVantages: []string{"c"}},
		{Start: minute(2), Status: StatusDown, ErrorClasses: []string{"refused", "timeout"}, FailedVantages: []string{"a"}},
		// Not down: its failures belong to no incident.
		{Start: minute(3), Status: StatusDegraded, ErrorClasses: []string{"tls"}, FailedVantages: []string{"d"}},
		{Start: minute(4), Status: StatusMaintenance, ErrorClasses: []string{"http_5xx"}, FailedVantages: []string{"e"}},
		{Start: minute(5), Status: StatusDown, ErrorClasses: []string{"keyword_missing"}, FailedVantages: []string{"berthd"}},
		{Start: minute(6), Status: StatusUp},
		{Start: minute(7), Status: StatusUp},
	}
	_, got := feed(minutes, 2)
	want := []taggedEvent{
		{1, Event{EventOpened, Incident{Start: minute(0),
			ErrorClasses: []string{"dns", "timeout"}, Vantages: []string{"a", "b", "c"}}}},
		{7, Event{EventResolved, Incident{Start: minute(0), End: minute(6),
			ErrorClasses: []string{"dns", "keyword_missing", "refused", "timeout"}, Vantages: []string{"a", "b", "berthd", "c"}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

// Vantage points come and go between minutes; each minute's quorum is of the
// ones that reported in it, and the incident gathers all that saw a failure.
func TestStepVantageChurn(t *testing.T) {
	perMinute := [][]Result{
		{fail("a", 1, "timeout"), fail("b", 2, "timeout"), ok("c", 3, 900)}, // down, 2 of 3
		{fail("c", 1, "refused"), fail("d", 2, "refused")},                  // a, b silent; down, 2 of 2
		{ok("e", 1, 100)},     // only e reports: up
		{fail("a", 1, "dns")}, // a alone: down; breaks the resolving run
		{ok("a", 1, 100), fail("b", 2, "tls"), ok("c", 3, 100)}, // degraded, 1 of 3: not down
		{ok("b", 1, 100), ok("d", 2, 100)},                      // up: second not-down minute
	}
	wantStatus := []Status{StatusDown, StatusDown, StatusUp, StatusDown, StatusDegraded, StatusUp}
	var minutes []Minute
	for i, rs := range perMinute {
		for j := range rs {
			rs[j].Time = rs[j].Time.Add(time.Duration(i) * time.Minute)
		}
		m := RollupMinute(minute(i), rs, false)
		if m.Status != wantStatus[i] {
			t.Errorf("minute %d: status %v, want %v", i, m.Status, wantStatus[i])
		}
		minutes = append(minutes, m)
	}
	_, got := feed(minutes, 2)
	want := []taggedEvent{
		{1, Event{EventOpened, Incident{Start: minute(0),
			ErrorClasses: []string{"refused", "timeout"}, Vantages: []string{"a", "b", "c", "d"}}}},
		{5, Event{EventResolved, Incident{Start: minute(0), End: minute(4),
			ErrorClasses: []string{"dns", "refused", "timeout"}, Vantages: []string{"a", "b", "c", "d"}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestStepDoesNotModifyItsInputs(t *testing.T) {
	st := TrackerState{
		Last: minute(1), DownRun: 2, RunStart: minute(0),
		Open: &Incident{Start: minute(0), ErrorClasses: make([]string, 1, 10), Vantages: make([]string, 1, 10)},
	}
	st.Open.ErrorClasses[0], st.Open.Vantages[0] = "timeout", "a"
	m := Minute{Start: minute(2), Status: StatusDown, ErrorClasses: []string{"dns"}, FailedVantages: []string{"b"}}
	wantSt := TrackerState{
		Last: minute(1), DownRun: 2, RunStart: minute(0),
		Open: &Incident{Start: minute(0), ErrorClasses: []string{"timeout"}, Vantages: []string{"a"}},
	}
	wantM := Minute{Start: minute(2), Status: StatusDown, ErrorClasses: []string{"dns"}, FailedVantages: []string{"b"}}

	next, _ := Step(st, m, 2)
	if diff := cmp.Diff(wantSt, st); diff != "" {
		t.Errorf("state modified (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantM, m); diff != "" {
		t.Errorf("minute modified (-want +got):\n%s", diff)
	}
	if got := st.Open.ErrorClasses[:2]; got[1] != "" {
		t.Errorf("state's spare capacity written: %q", got)
	}
	if want := []string{"dns", "timeout"}; !cmp.Equal(next.Open.ErrorClasses, want) {
		t.Errorf("next ErrorClasses = %q, want %q", next.Open.ErrorClasses, want)
	}

	// An event's slices are its own: changing them leaves the state alone.
	st2, evs := Step(TrackerState{}, Minute{Start: minute(0), Status: StatusDown, ErrorClasses: []string{"dns"}}, 1)
	evs[0].Incident.ErrorClasses[0] = "changed"
	if st2.Open.ErrorClasses[0] != "dns" {
		t.Errorf("event shares its slices with the state")
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{EventOpened: "opened", EventResolved: "resolved", 0: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// FuzzStep feeds arbitrary minute sequences, in and out of order, and checks
// that Step never panics and that events alternate Opened, Resolved, ... for
// the same incident.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0x13, 0x13, 0x11, 0x11}, uint8(2))
	f.Add([]byte{0x13, 0x00, 0x13, 0x04, 0x12, 0x12}, uint8(2))
	f.Add([]byte{0x13, 0x23, 0x03, 0x13, 0x31, 0x11, 0x11}, uint8(1))
	f.Add([]byte{0x13, 0x13, 0x13, 0x15, 0x11, 0x14, 0x12, 0x11}, uint8(3))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, kb uint8) {
		k := int(kb%6) - 1 // -1..4: includes the k < 1 default
		var st TrackerState
		var open *Incident // what the events say is open
		now := t0
		for i, b := range data {
			// Low 3 bits: a status, including an unknown one. High bits:
			// move -1..2 minutes, so minutes repeat, go back and skip.
			status := Status(b & 7 % 6)
			now = now.Add(time.Duration(int(b>>4)%4-1) * time.Minute)
			m := Minute{Start: now, Status: status}
			if status == StatusDown {
				m.ErrorClasses = []string{[]string{"timeout", "dns"}[i%2]}
				m.FailedVantages = []string{[]string{"a", "b", "c"}[i%3]}
			}
			prevLast := st.Last
			var evs []Event
			st, evs = Step(st, m, k)
			if len(evs) > 1 {
				t.Fatalf("step %d: %d events, want at most 1", i, len(evs))
			}
			if st.Last.Before(prevLast) {
				t.Fatalf("step %d: Last went back from %v to %v", i, prevLast, st.Last)
			}
			for _, e := range evs {
				switch e.Kind {
				case EventOpened:
					if open != nil {
						t.Fatalf("step %d: opened while %v is open", i, open.Start)
					}
					if !e.Incident.End.IsZero() || e.Incident.Start.After(st.Last) {
						t.Fatalf("step %d: bad opened incident %+v", i, e.Incident)
					}
					inc := e.Incident
					open = &inc
				case EventResolved:
					if open == nil {
						t.Fatalf("step %d: resolved without an open incident", i)
					}
					if !e.Incident.Start.Equal(open.Start) || !e.Incident.End.After(e.Incident.Start) {
						t.Fatalf("step %d: resolved %+v does not close opened %+v", i, e.Incident, *open)
					}
					open = nil
				default:
					t.Fatalf("step %d: unknown event kind %d", i, e.Kind)
				}
			}
			if (st.Open != nil) != (open != nil) {
				t.Fatalf("step %d: state open = %v, events say %v", i, st.Open != nil, open != nil)
			}
			if st.DownRun > 0 && st.UpRun > 0 {
				t.Fatalf("step %d: both runs non-zero: %+v", i, st)
			}
		}
	})
}
