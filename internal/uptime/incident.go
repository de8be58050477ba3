package uptime

import (
	"slices"
	"time"
)

// DefaultK is the number of consecutive minutes that opens an incident (down
// minutes) or resolves it (not-down minutes) when Step is given k < 1.
const DefaultK = 2

// Incident is a run of down minutes of one site.
type Incident struct {
	Start time.Time // the first down minute
	// End is the first minute of the not-down run that resolved the
	// incident; zero while the incident is open.
	End time.Time
	// ErrorClasses and Vantages are the error classes and failed vantage
	// points of the incident's down minutes; sorted, unique.
	ErrorClasses []string
	Vantages     []string
}

// EventKind says what happened to an incident.
type EventKind int

// The kinds of Event.
const (
	EventOpened   EventKind = iota + 1 // the incident opened; End is zero
	EventResolved                      // the incident resolved; End is set
)

// String returns "opened" or "resolved".
func (k EventKind) String() string {
	switch k {
	case EventOpened:
		return "opened"
	case EventResolved:
		return "resolved"
	}
	return "unknown"
}

// Event is an incident that opened or resolved. Its slices are its own.
type Event struct {
	Kind     EventKind
	Incident Incident
}

// TrackerState is the incident state of one site, persisted by the caller
// between calls to Step. The zero value is a site with no history.
//
// A run counts only up, degraded and down minutes: no-data and maintenance
// minutes are skipped, so at most one of DownRun and UpRun is non-zero.
type TrackerState struct {
	Last     time.Time // the last minute fed to Step; zero before the first
	DownRun  int       // consecutive down minutes at the end
	UpRun    int       // consecutive up or degraded minutes at the end
	RunStart time.Time // the first minute of the current run (down or up)
	// RunErrorClasses and RunVantages collect what the current down run has
	// seen while it is too short to open an incident; nil otherwise.
	RunErrorClasses []string
	RunVantages     []string
	Open            *Incident // the open incident; nil when none
}

// Step feeds the next minute of a site to the incident tracker and returns
// the new state and the events it caused (at most one). st is not modified.
//
// Rules, with K = k (DefaultK when k < 1):
//   - A minute that is not after st.Last is ignored: minutes must come in
//     order, and a repeated or older one changes nothing.
//   - An incident opens at the K-th consecutive DOWN minute; its Start is
//     the first minute of that run.
//   - An open incident resolves at the K-th consecutive UP or DEGRADED
//     minute; its End is the first minute of that run.
//   - DEGRADED counts as not down, as in the uptime ratio: it breaks a down
//     run and counts toward resolving.
//   - NO_DATA and MAINTENANCE minutes (and any unknown status) are skipped:
//     they neither count toward a run nor break it. A gap between st.Last
//     and m.Start is missing minutes, that is NO_DATA, and is skipped too.
//     So missing data never opens, resolves or shortens an incident.
//   - An incident collects the error classes and failed vantage points of
//     all its DOWN minutes, including those before it opened.
func Step(st TrackerState, m Minute, k int) (TrackerState, []Event) {
	if k < 1 {
		k = DefaultK
	}
	start := m.Start.UTC().Truncate(time.Minute)
	if !st.Last.IsZero() && !start.After(st.Last) {
		return st, nil
	}
	st.Last = start

	switch m.Status {
	case StatusDown:
		if st.DownRun == 0 {
			st.RunStart = start
		}
		st.DownRun++
		st.UpRun = 0
		if st.Open != nil {
			open := *st.Open
			open.ErrorClasses = union(open.ErrorClasses, m.ErrorClasses)
			open.Vantages = union(open.Vantages, m.FailedVantages)
			st.Open = &open
			return st, nil
		}
		st.RunErrorClasses = union(st.RunErrorClasses, m.ErrorClasses)
		st.RunVantages = union(st.RunVantages, m.FailedVantages)
		if st.DownRun < k {
			return st, nil
		}
		st.Open = &Incident{Start: st.RunStart, ErrorClasses: st.RunErrorClasses, Vantages: st.RunVantages}
		st.RunErrorClasses, st.RunVantages = nil, nil
		return st, []Event{{Kind: EventOpened, Incident: cloneIncident(*st.Open)}}

	case StatusUp, StatusDegraded:
		if st.UpRun == 0 {
			st.RunStart = start
		}
		st.UpRun++
		st.DownRun = 0
		st.RunErrorClasses, st.RunVantages = nil, nil
		if st.Open == nil || st.UpRun < k {
			return st, nil
		}
		resolved := cloneIncident(*st.Open)
		resolved.End = st.RunStart
		st.Open = nil
		return st, []Event{{Kind: EventResolved, Incident: resolved}}
	}
	return st, nil
}

func cloneIncident(in Incident) Incident {
	in.ErrorClasses = slices.Clone(in.ErrorClasses)
	in.Vantages = slices.Clone(in.Vantages)
	return in
}
