package uptime

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the minute most tests look at.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// at returns t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func ok(vantage string, sec int, ms float64) Result {
	return Result{Vantage: vantage, Time: at(sec), OK: true, TotalMS: ms}
}

func fail(vantage string, sec int, class string) Result {
	return Result{Vantage: vantage, Time: at(sec), ErrorClass: class}
}

func TestRollupMinute(t *testing.T) {
	tests := []struct {
		name        string
		start       time.Time
		results     []Result
		maintenance bool
		want        Minute
	}{{
		name:    "all up",
		results: []Result{ok("a", 1, 100), ok("b", 2, 200), ok("berthd", 3, 300)},
		want:    Minute{Start: t0, Status: StatusUp, Up: 3, Total: 3, P50MS: 200, P95MS: 300, P99MS: 300},
	}, {
		name:    "1 of 3 failed is degraded",
		results: []Result{ok("a", 1, 100), fail("b", 2, "timeout"), ok("c", 3, 300)},
		want: Minute{Start: t0, Status: StatusDegraded, Up: 2, Total: 3, P50MS: 100, P95MS: 300, P99MS: 300,
			ErrorClasses: []string{"timeout"}, FailedVantages: []string{"b"}},
	}, {
		name:    "2 of 3 failed is down",
		results: []Result{fail("c", 1, "timeout"), fail("a", 2, "refused"), ok("b", 3, 50)},
		want: Minute{Start: t0, Status: StatusDown, Up: 1, Total: 3, P50MS: 50, P95MS: 50, P99MS: 50,
			ErrorClasses: []string{"refused", "timeout"}, FailedVantages: []string{"a", "c"}},
	}, {
		name:    "1 of 2 failed is degraded: half is not more than half",
		results: []Result{fail("a", 1, "tls"), ok("b", 2, 80)},
		want: Minute{Start: t0, Status: StatusDegraded, Up: 1, Total: 2, P50MS: 80, P95MS: 80, P99MS: 80,
			ErrorClasses: []string{"tls"}, FailedVantages: []string{"a"}},
	}, {
		name:    "2 of 2 failed is down",
		results: []Result{fail("a", 1, "dns"), fail("b", 2, "dns")},
		want: Minute{Start: t0, Status: StatusDown, Up: 0, Total: 2,
			ErrorClasses: []string{"dns"}, FailedVantages: []string{"a", "b"}},
	}, {
		name:    "1 of 1 failed is down",
		results: []Result{fail("berthd", 1, "http_5xx")},
		want: Minute{Start: t0, Status: StatusDown, Total: 1,
			ErrorClasses: []string{"http_5xx"}, FailedVantages: []string{"berthd"}},
	}, {
		name: "no results is no data",
		want: Minute{Start: t0, Status: StatusNoData},
	}, {
		name:    "last result of a vantage is its vote: recovered",
		results: []Result{fail("a", 10, "timeout"), ok("a", 50, 120), ok("b", 5, 90)},
		want:    Minute{Start: t0, Status: StatusUp, Up: 2, Total: 2, P50MS: 90, P95MS: 120, P99MS: 120},
	}, {
		name:    "last result of a vantage is its vote: by time, not by position",
		results: []Result{fail("a", 50, "refused"), ok("a", 10, 120), ok("a", 20, 130)},
		want: Minute{Start: t0, Status: StatusDown, Total: 1,
			ErrorClasses: []string{"refused"}, FailedVantages: []string{"a"}},
	}, {
		name:    "equal times: the later in the slice wins",
		results: []Result{fail("a", 30, "timeout"), ok("a", 30, 70)},
		want:    Minute{Start: t0, Status: StatusUp, Up: 1, Total: 1, P50MS: 70, P95MS: 70, P99MS: 70},
	}, {
		name: "results outside [start, start+1m) are ignored",
		results: []Result{
			fail("a", -1, "timeout"), // 11:59:59
			ok("a", 0, 40),           // 12:00:00, the first instant of the minute
			fail("b", 60, "timeout"), // 12:01:00, the next minute
			fail("a", 3600, "dns"),   // an hour later
		},
		want: Minute{Start: t0, Status: StatusUp, Up: 1, Total: 1, P50MS: 40, P95MS: 40, P99MS: 40},
	}, {
		name:    "only results outside the minute is no data",
		results: []Result{fail("a", -30, "timeout"), fail("b", 61, "timeout")},
		want:    Minute{Start: t0, Status: StatusNoData},
	}, {
		name:        "maintenance overrides a down minute; counts still filled",
		results:     []Result{fail("a", 1, "refused"), fail("b", 2, "refused"), ok("c", 3, 10)},
		maintenance: true,
		want: Minute{Start: t0, Status: StatusMaintenance, Up: 1, Total: 3, P50MS: 10, P95MS: 10, P99MS: 10,
			ErrorClasses: []string{"refused"}, FailedVantages: []string{"a", "b"}},
	}, {
		name:        "maintenance overrides no data",
		maintenance: true,
		want:        Minute{Start: t0, Status: StatusMaintenance},
	}, {
		name:    "failure without a class is other; a class on success is ignored",
		results: []Result{fail("a", 1, ""), {Vantage: "b", Time: at(2), OK: true, ErrorClass: "timeout", TotalMS: 5}},
		want: Minute{Start: t0, Status: StatusDegraded, Up: 1, Total: 2, P50MS: 5, P95MS: 5, P99MS: 5,
			ErrorClasses: []string{"other"}, FailedVantages: []string{"a"}},
	}, {
		name:    "start inside the minute and in another zone means the UTC minute holding it",
		start:   t0.Add(30 * time.Second).In(time.FixedZone("CET", 3600)),
		results: []Result{ok("a", 1, 10), fail("b", 61, "dns")},
		want:    Minute{Start: t0, Status: StatusUp, Up: 1, Total: 1, P50MS: 10, P95MS: 10, P99MS: 10},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := tt.start
			if start.IsZero() {
				start = t0
			}
			got := RollupMinute(start, tt.results, tt.maintenance)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RollupMinute() mismatch (-want +got):\n%s", diff)
			}
			if got.Start.Location() != time.UTC {
				t.Errorf("Start location = %v, want UTC", got.Start.Location())
			}
		})
	}
}

func TestRollupMinuteDoesNotModifyInput(t *testing.T) {
	results := []Result{fail("b", 1, "timeout"), fail("a", 2, "dns"), ok("c", 3, 30), ok("c", 2, 20)}
	before := append([]Result(nil), results...)
	RollupMinute(t0, results, false)
	if diff := cmp.Diff(before, results); diff != "" {
		t.Errorf("results modified (-before +after):\n%s", diff)
	}
}

func TestPercentiles(t *testing.T) {
	seq := func(n int) []float64 {
		var v []float64
		for i := n; i >= 1; i-- { // descending: Percentiles must sort
			v = append(v, float64(i))
		}
		return v
	}
	tests := []struct {
		name          string
		ms            []float64
		p50, p95, p99 float64
	}{
		{"none", nil, 0, 0, 0},
		{"one", []float64{42}, 42, 42, 42},
		{"two: p50 is the lower", []float64{300, 100}, 100, 300, 300},
		{"1..3", seq(3), 2, 3, 3},
		{"1..10", seq(10), 5, 10, 10},
		{"1..11: ranks round up, 10.45 is the 11th", seq(11), 6, 11, 11},
		{"1..20", seq(20), 10, 19, 20},
		{"1..100", seq(100), 50, 95, 99},
		{"1..1000", seq(1000), 500, 950, 990},
		{"NaN ignored", []float64{math.NaN(), 7, math.NaN()}, 7, 7, 7},
		{"only NaN", []float64{math.NaN()}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.ms...)
			p50, p95, p99 := Percentiles(in)
			if p50 != tt.p50 || p95 != tt.p95 || p99 != tt.p99 {
				t.Errorf("Percentiles() = %v, %v, %v; want %v, %v, %v", p50, p95, p99, tt.p50, tt.p95, tt.p99)
			}
			if !cmp.Equal(in, tt.ms, cmp.Comparer(func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) })) {
				t.Errorf("input modified: %v, was %v", in, tt.ms)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	want := map[Status]string{
		StatusNoData: "no_data", StatusUp: "up", StatusDegraded: "degraded",
		StatusDown: "down", StatusMaintenance: "maintenance", Status(99): "unknown",
	}
	for s, w := range want {
		if got := s.String(); got != w {
			t.Errorf("Status(%d).String() = %q, want %q", int(s), got, w)
		}
	}
	var zero Status
	if zero != StatusNoData {
		t.Errorf("zero Status = %v, want no_data", zero)
	}
}
