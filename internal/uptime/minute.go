package uptime

import (
	"math"
	"slices"
	"time"
)

// Status is the verdict of one site-minute. The zero value is StatusNoData,
// so a minute nobody stored reads as "no data". The numbers are not those of
// the berth.v1.MinuteStatus proto enum: convert by name, not by value.
type Status int

// The verdicts of a minute.
const (
	StatusNoData      Status = iota // no vantage point reported; not counted
	StatusUp                        // every vantage point that reported succeeded
	StatusDegraded                  // some, but not more than half, failed
	StatusDown                      // more than half of those that reported failed
	StatusMaintenance               // inside a maintenance window; not counted
)

// String returns the status in snake case: "no_data", "up", "degraded",
// "down" or "maintenance".
func (s Status) String() string {
	switch s {
	case StatusNoData:
		return "no_data"
	case StatusUp:
		return "up"
	case StatusDegraded:
		return "degraded"
	case StatusDown:
		return "down"
	case StatusMaintenance:
		return "maintenance"
	}
	return "unknown"
}

// ErrorClassOther is the error class given to a failed result that names none.
const ErrorClassOther = "other"

// Result is one probe of a site from one vantage point.
type Result struct {
	Vantage string    // node ID, or "berthd" for the control plane
	Time    time.Time // when the probe finished
	OK      bool
	// ErrorClass says why a probe failed: "timeout", "refused", "tls",
	// "http_5xx", "http_status", "keyword_missing", "dns" or "other". It is
	// ignored when OK; a failure without one counts as "other".
	ErrorClass string
	TotalMS    float64 // total probe time in milliseconds
}

// Minute is the verdict of one site-minute.
type Minute struct {
	Start  time.Time // UTC, truncated to the minute
	Status Status
	Up     int // vantage points whose vote succeeded
	Total  int // vantage points that reported
	// P50MS, P95MS and P99MS are the latency of the successful votes
	// (nearest rank); 0 when none succeeded.
	P50MS, P95MS, P99MS float64
	ErrorClasses        []string // of the failed votes; sorted, unique, nil when none
	FailedVantages      []string // sorted, unique, nil when none
}

// RollupMinute computes the verdict of the minute that holds start, from the
// results whose Time falls in [minute, minute+1m); other results are ignored.
//
// Each vantage point votes once: its vote is its latest result in the minute
// (on equal times, the one later in results). The minute is DOWN when more
// than half of the vantage points that reported failed, DEGRADED when some
// but not more than half failed, UP when none failed and NO_DATA when none
// reported. When maintenance is true the status is MAINTENANCE, whatever the
// votes; the counts, latencies and failures are still filled in.
func RollupMinute(start time.Time, results []Result, maintenance bool) Minute {
	m := Minute{Start: start.UTC().Truncate(time.Minute)}
	end := m.Start.Add(time.Minute)

	votes := make(map[string]Result)
	for _, r := range results {
		if r.Time.Before(m.Start) || !r.Time.Before(end) {
			continue
		}
		if prev, ok := votes[r.Vantage]; ok && r.Time.Before(prev.Time) {
			continue
		}
		votes[r.Vantage] = r
	}

	var latencies []float64
	for vantage, r := range votes {
		m.Total++
		if r.OK {
			m.Up++
			latencies = append(latencies, r.TotalMS)
			continue
		}
		class := r.ErrorClass
		if class == "" {
			class = ErrorClassOther
		}
		m.ErrorClasses = append(m.ErrorClasses, class)
		m.FailedVantages = append(m.FailedVantages, vantage)
	}
	m.ErrorClasses = sortedUnique(m.ErrorClasses)
	m.FailedVantages = sortedUnique(m.FailedVantages)
	m.P50MS, m.P95MS, m.P99MS = Percentiles(latencies)

	failed := m.Total - m.Up
	switch {
	case maintenance:
		m.Status = StatusMaintenance
	case m.Total == 0:
		m.Status = StatusNoData
	case 2*failed > m.Total:
		m.Status = StatusDown
	case failed > 0:
		m.Status = StatusDegraded
	default:
		m.Status = StatusUp
	}
	return m
}

// Percentiles returns the 50th, 95th and 99th percentiles of ms by nearest
// rank: the p-th percentile of n values is the ceil(p/100 × n)-th smallest.
// NaN values are ignored; with no values all three are 0.
func Percentiles(ms []float64) (p50, p95, p99 float64) {
	v := make([]float64, 0, len(ms))
	for _, x := range ms {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, 0, 0
	}
	slices.Sort(v)
	rank := func(p int) float64 {
		r := (p*len(v) + 99) / 100 // ceil(p*n/100) in integers
		return v[r-1]
	}
	return rank(50), rank(95), rank(99)
}

// sortedUnique sorts s in place and drops duplicates; nil when empty.
func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// union returns the sorted, unique union of a and b in a new slice; nil when
// both are empty. It never writes to a or b, so states and events can share
// the slices it returns.
func union(a, b []string) []string {
	return sortedUnique(append(slices.Clone(a), b...))
}
