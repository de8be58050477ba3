package uptime

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	ten := t0.Add(10 * time.Minute)
	tests := []struct {
		name       string
		start, end time.Time
		minutes    []Minute
		want       Window
	}{{
		name:  "nothing stored: all no data, ratio 1",
		start: t0, end: t0.Add(time.Hour),
		want: Window{Start: t0, End: t0.Add(time.Hour), NoData: 60, Ratio: 1},
	}, {
		name:  "empty span",
		start: t0, end: t0,
		minutes: []Minute{{Start: t0, Status: StatusDown}},
		want:    Window{Start: t0, End: t0, Ratio: 1},
	}, {
		name:  "reversed span is empty",
		start: ten, end: t0,
		want: Window{Start: ten, End: ten, Ratio: 1},
	}, {
		name:  "sparse minutes: the rest is no data",
		start: t0, end: ten,
		minutes: []Minute{
			{Start: minute(7), Status: StatusMaintenance},
			{Start: minute(0), Status: StatusUp},
			{Start: minute(5), Status: StatusDegraded},
			{Start: minute(3), Status: StatusDown},
			{Start: minute(4), Status: StatusNoData},
		},
		want: Window{Start: t0, End: ten, Counted: 3, Up: 1, Degraded: 1, Down: 1, NoData: 6, Maintenance: 1, Ratio: 2.0 / 3},
	}, {
		name:  "maintenance is not counted, even when down",
		start: t0, end: minute(4),
		minutes: []Minute{
			{Start: minute(0), Status: StatusUp},
			{Start: minute(1), Status: StatusMaintenance},
			{Start: minute(2), Status: StatusMaintenance},
			{Start: minute(3), Status: StatusUp},
		},
		want: Window{Start: t0, End: minute(4), Counted: 2, Up: 2, Maintenance: 2, Ratio: 1},
	}, {
		name:  "only maintenance and no data: ratio 1",
		start: t0, end: minute(2),
		minutes: []Minute{{Start: minute(0), Status: StatusMaintenance}},
		want:    Window{Start: t0, End: minute(2), NoData: 1, Maintenance: 1, Ratio: 1},
	}, {
		name:  "all down: ratio 0",
		start: t0, end: minute(2),
		minutes: []Minute{{Start: minute(0), Status: StatusDown}, {Start: minute(1), Status: StatusDown}},
		want:    Window{Start: t0, End: minute(2), Counted: 2, Down: 2, Ratio: 0},
	}, {
		name:  "start is in, end is out, outside ignored",
		start: minute(1), end: minute(3),
		minutes: []Minute{
			{Start: minute(0), Status: StatusDown},
			{Start: minute(1), Status: StatusUp},
			{Start: minute(2), Status: StatusUp},
			{Start: minute(3), Status: StatusDown},
		},
		want: Window{Start: minute(1), End: minute(3), Counted: 2, Up: 2, Ratio: 1},
	}, {
		name:  "a repeated minute counts once, the later entry wins",
		start: t0, end: minute(2),
		minutes: []Minute{
			{Start: minute(0), Status: StatusDown},
			{Start: minute(0), Status: StatusUp},
			{Start: minute(1), Status: StatusUp},
		},
		want: Window{Start: t0, End: minute(2), Counted: 2, Up: 2, Ratio: 1},
	}, {
		name: "start and end are truncated to the minute in UTC",
		// [12:00:30, 12:02:59) means minutes 12:00 and 12:01; the incomplete
		// 12:02 is left out.
		start: t0.Add(30 * time.Second).In(time.FixedZone("EST", -5*3600)), end: minute(3).Add(-time.Second),
		minutes: []Minute{
			{Start: minute(0), Status: StatusUp},
			{Start: minute(1).Add(59 * time.Second), Status: StatusDown},
			{Start: minute(2), Status: StatusDown},
		},
		want: Window{Start: t0, End: minute(2), Counted: 2, Up: 1, Down: 1, Ratio: 0.5},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.start, tt.end, tt.minutes)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Summarize() mismatch (-want +got):\n%s", diff)
			}
			if got.Up+got.Degraded+got.Down+got.NoData+got.Maintenance != int64(got.End.Sub(got.Start)/time.Minute) {
				t.Errorf("buckets do not add up to the span: %+v", got)
			}
		})
	}
}

// everyMinute returns one minute per minute of [start, end), with the status
// that status gives it.
func everyMinute(start, end time.Time, status func(i int) Status) []Minute {
	var ms []Minute
	for i, t := 0, start; t.Before(end); i, t = i+1, t.Add(time.Minute) {
		ms = append(ms, Minute{Start: t, Status: status(i)})
	}
	return ms
}

func TestSummarizeMonths(t *testing.T) {
	nov, err := time.Parse(time.RFC3339, "2026-11-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := MonthRange("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	// 30 days = 43,200 minutes: 43 down, 60 maintenance, 10 missing, 7
	// degraded, the rest up.
	minutes := everyMinute(start, end, func(i int) Status {
		switch {
		case i >= 1000 && i < 1043:
			return StatusDown
		case i >= 2000 && i < 2060:
			return StatusMaintenance
		case i >= 3000 && i < 3007:
			return StatusDegraded
		}
		return StatusUp
	})
	minutes = append(minutes[:5000], minutes[5010:]...)
	got := Summarize(start, end, minutes)
	want := Window{
		Start: nov, End: nov.AddDate(0, 1, 0),
		Counted: 43130, Up: 43080, Degraded: 7, Down: 43, NoData: 10, Maintenance: 60,
		Ratio: 43087.0 / 43130,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("2026-11 mismatch (-want +got):\n%s", diff)
	}
	if pct := got.Ratio * 100; pct < 99.9 || pct >= 99.901 {
		t.Errorf("2026-11 uptime = %.4f%%, want 99.900%%", pct)
	}

	// February 2026 has 28 days.
	start, end, err = MonthRange("2026-02")
	if err != nil {
		t.Fatal(err)
	}
	got = Summarize(start, end, nil)
	if got.NoData != 28*24*60 || got.Counted != 0 || got.Ratio != 1 {
		t.Errorf("empty 2026-02 = %+v, want 40320 no-data minutes, ratio 1", got)
	}
	got = Summarize(start, end, everyMinute(start, end, func(int) Status { return StatusUp }))
	if got.Up != 40320 || got.Counted != 40320 || got.NoData != 0 || got.Ratio != 1 {
		t.Errorf("all-up 2026-02 = %+v, want 40320 up minutes", got)
	}
}

func TestDaily(t *testing.T) {
	d := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	minutes := []Minute{
		{Start: d("2026-11-28 23:59"), Status: StatusDown},
		{Start: d("2026-11-29 00:00"), Status: StatusUp},
		{Start: d("2026-11-29 23:59"), Status: StatusDegraded},
		{Start: d("2026-11-30 00:00"), Status: StatusMaintenance},
		{Start: d("2026-11-30 01:15"), Status: StatusDown}, // at end: out
	}
	got := Daily(d("2026-11-28 22:30"), d("2026-11-30 01:15"), minutes)
	want := []Window{
		{Start: d("2026-11-28 22:30"), End: d("2026-11-29 00:00"), Counted: 1, Down: 1, NoData: 89, Ratio: 0},
		{Start: d("2026-11-29 00:00"), End: d("2026-11-30 00:00"), Counted: 2, Up: 1, Degraded: 1, NoData: 1438, Ratio: 1},
		{Start: d("2026-11-30 00:00"), End: d("2026-11-30 01:15"), Maintenance: 1, NoData: 74, Ratio: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Daily() mismatch (-want +got):\n%s", diff)
	}

	// Days are UTC days, whatever the zone of the arguments.
	tokyo := time.FixedZone("JST", 9*3600)
	got = Daily(d("2026-11-28 12:00").In(tokyo), d("2026-11-29 12:00").In(tokyo), nil)
	if len(got) != 2 || !got[0].End.Equal(d("2026-11-29 00:00")) || got[0].NoData != 720 || got[1].NoData != 720 {
		t.Errorf("Daily() across a zone = %+v, want two halves split at UTC midnight", got)
	}

	start, end, err := MonthRange("2026-02")
	if err != nil {
		t.Fatal(err)
	}
	got = Daily(start, end, everyMinute(start, end, func(int) Status { return StatusUp }))
	if len(got) != 28 {
		t.Fatalf("Daily(2026-02) = %d days, want 28", len(got))
	}
	for i, w := range got {
		wantStart := start.AddDate(0, 0, i)
		if !w.Start.Equal(wantStart) || !w.End.Equal(wantStart.AddDate(0, 0, 1)) || w.Up != 1440 || w.Counted != 1440 {
			t.Errorf("day %d = %+v, want 1440 up minutes from %v", i, w, wantStart)
		}
	}

	if got := Daily(end, end, nil); got != nil {
		t.Errorf("Daily() of an empty span = %+v, want nil", got)
	}
}

func TestMonthRange(t *testing.T) {
	utc := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	good := []struct {
		month      string
		start, end time.Time
		days       int
	}{
		{"2026-11", utc(2026, 11), utc(2026, 12), 30},
		{"2026-12", utc(2026, 12), utc(2027, 1), 31},
		{"2026-01", utc(2026, 1), utc(2026, 2), 31},
		{"2026-02", utc(2026, 2), utc(2026, 3), 28},
		{"2028-02", utc(2028, 2), utc(2028, 3), 29},
	}
	for _, tt := range good {
		t.Run(tt.month, func(t *testing.T) {
			start, end, err := MonthRange(tt.month)
			if err != nil {
				t.Fatalf("MonthRange(%q): %v", tt.month, err)
			}
			if !start.Equal(tt.start) || !end.Equal(tt.end) || start.Location() != time.UTC {
				t.Errorf("MonthRange(%q) = %v, %v; want %v, %v", tt.month, start, end, tt.start, tt.end)
			}
			if days := int(end.Sub(start) / (24 * time.Hour)); days != tt.days {
				t.Errorf("MonthRange(%q) spans %d days, want %d", tt.month, days, tt.days)
			}
		})
	}

	bad := []struct{ month, wantErr string }{
		{"2026-13", `uptime: invalid month "2026-13": the month must be 01 to 12`},
		{"2026-00", `uptime: invalid month "2026-00": the month must be 01 to 12`},
		{"26-11", `uptime: invalid month "26-11": want YYYY-MM, e.g. "2026-11"`},
		{"2026-1", `uptime: invalid month "2026-1": want YYYY-MM, e.g. "2026-11"`},
		{"", `uptime: invalid month "": want YYYY-MM, e.g. "2026-11"`},
		{"2026/11", `uptime: invalid month "2026/11": want YYYY-MM, e.g. "2026-11"`},
		{"2026-11-01", `uptime: invalid month "2026-11-01": want YYYY-MM, e.g. "2026-11"`},
		{" 2026-11", `uptime: invalid month " 2026-11": want YYYY-MM, e.g. "2026-11"`},
		{"+202-11", `uptime: invalid month "+202-11": want YYYY-MM, e.g. "2026-11"`},
		{"2026-+1", `uptime: invalid month "2026-+1": want YYYY-MM, e.g. "2026-11"`},
		{"Nov 2026", `uptime: invalid month "Nov 2026": want YYYY-MM, e.g. "2026-11"`},
	}
	for _, tt := range bad {
		t.Run(tt.month, func(t *testing.T) {
			start, end, err := MonthRange(tt.month)
			if err == nil {
				t.Fatalf("MonthRange(%q) = %v, %v; want an error", tt.month, start, end)
			}
			if !errors.Is(err, ErrInvalidMonth) {
				t.Errorf("MonthRange(%q) error %v does not wrap ErrInvalidMonth", tt.month, err)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("MonthRange(%q) error = %q, want %q", tt.month, err, tt.wantErr)
			}
		})
	}
}

// FuzzMonthRange checks that MonthRange accepts exactly the months it can
// print back, and that a month is one calendar month in UTC.
func FuzzMonthRange(f *testing.F) {
	for _, s := range []string{"2026-11", "2026-02", "2026-13", "26-11", "2026-1", "", "+202-11", "0000-01", "9999-12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, month string) {
		start, end, err := MonthRange(month)
		if err != nil {
			if !errors.Is(err, ErrInvalidMonth) || !strings.Contains(err.Error(), "uptime: invalid month") {
				t.Fatalf("MonthRange(%q) error %v does not wrap ErrInvalidMonth", month, err)
			}
			return
		}
		if got := start.Format("2006-01"); got != month {
			t.Fatalf("MonthRange(%q) start %v formats as %q", month, start, got)
		}
		if start.Location() != time.UTC || start.Day() != 1 || start.Hour() != 0 || start.Minute() != 0 {
			t.Fatalf("MonthRange(%q) start %v is not the first minute of the month in UTC", month, start)
		}
		if !end.Equal(start.AddDate(0, 1, 0)) {
			t.Fatalf("MonthRange(%q) end %v, want %v", month, end, start.AddDate(0, 1, 0))
		}
	})
}

// summarizeByMap is Summarize as first written, one map entry per minute:
// the reference the dense Series must agree with.
func summarizeByMap(start, end time.Time, minutes []Minute) Window {
	w := Window{Start: start.UTC().Truncate(time.Minute), End: end.UTC().Truncate(time.Minute), Ratio: 1}
	if !w.End.After(w.Start) {
		w.End = w.Start
		return w
	}
	span := int64(w.End.Sub(w.Start) / time.Minute)
	status := map[int64]Status{}
	for _, m := range minutes {
		t := m.Start.UTC().Truncate(time.Minute)
		if t.Before(w.Start) || !t.Before(w.End) {
			continue
		}
		status[int64(t.Sub(w.Start)/time.Minute)] = m.Status
	}
	for _, s := range status {
		switch s {
		case StatusUp:
			w.Up++
		case StatusDegraded:
			w.Degraded++
		case StatusDown:
			w.Down++
		case StatusMaintenance:
			w.Maintenance++
		}
	}
	w.Counted = w.Up + w.Degraded + w.Down
	w.NoData = span - w.Counted - w.Maintenance
	if w.Counted > 0 {
		w.Ratio = float64(w.Up+w.Degraded) / float64(w.Counted)
	}
	return w
}

// TestSeriesMatchesReference: for random sparse, unordered, duplicated
// minutes, some outside the span, Summarize and Daily of a Series equal the
// map-based reference, for sub-spans inside, across and outside the series.
func TestSeriesMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 1, 22, 17, 0, 0, time.UTC)
	for round := range 200 {
		n := rng.IntN(5000)
		span := time.Duration(rng.IntN(4*1440)) * time.Minute
		var minutes []Minute
		for range n {
			off := time.Duration(rng.IntN(int(span/time.Minute)+200)-100) * time.Minute
			minutes = append(minutes, Minute{Start: base.Add(off + time.Duration(rng.IntN(59))*time.Second), Status: Status(rng.IntN(5))})
		}
		s := NewSeries(base, base.Add(span), minutes)
		for range 5 {
			from := base.Add(time.Duration(rng.IntN(int(span/time.Minute)+400)-200) * time.Minute)
			to := from.Add(time.Duration(rng.IntN(int(span/time.Minute)+400)-50) * time.Minute)
			// Inside the series, the reference sees the same minutes.
			inside := func(t time.Time) bool { return !t.Before(base) && t.Before(base.Add(span)) }
			var kept []Minute
			for _, m := range minutes {
				if inside(m.Start.Truncate(time.Minute)) {
					kept = append(kept, m)
				}
			}
			if got, want := s.Summarize(from, to), summarizeByMap(from, to, kept); got != want {
				t.Fatalf("round %d: Summarize(%s, %s) = %+v, want %+v", round, from, to, got, want)
			}
		}
		if got, want := Summarize(base, base.Add(span), minutes), summarizeByMap(base, base.Add(span), minutes); got != want {
			t.Fatalf("round %d: Summarize = %+v, want %+v", round, got, want)
		}
		days := Daily(base, base.Add(span), minutes)
		var total int64
		for _, d := range days {
			if want := summarizeByMap(d.Start, d.End, minutes); d != want {
				t.Fatalf("round %d: day %s = %+v, want %+v", round, d.Start, d, want)
			}
			total += d.End.Sub(d.Start).Milliseconds() / time.Minute.Milliseconds()
		}
		if total != int64(span/time.Minute) {
			t.Fatalf("round %d: days cover %d minutes of %d", round, total, int64(span/time.Minute))
		}
	}
}
