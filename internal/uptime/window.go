package uptime

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrInvalidMonth is wrapped by the error MonthRange returns for bad input.
var ErrInvalidMonth = errors.New("uptime: invalid month")

// Window is the uptime of a site over a span of minutes [Start, End).
//
// Every minute of the span is in exactly one of Up, Degraded, Down, NoData
// and Maintenance. Counted = Up + Degraded + Down: minutes without data or
// inside maintenance are not counted for or against the site.
type Window struct {
	Start, End  time.Time // UTC, on minute boundaries
	Counted     int64
	Up          int64
	Degraded    int64
	Down        int64
	NoData      int64
	Maintenance int64
	// Ratio is (Up + Degraded) / Counted, and 1 when Counted is 0.
	Ratio float64
}

// Summarize returns the uptime over [start, end), both truncated to the
// minute in UTC. minutes may be sparse and in any order: a minute of the span
// without an entry is NO_DATA, entries outside the span are ignored, and when
// two entries share a Start the later one in minutes wins. An empty or
// reversed span gives a Window with no minutes and Ratio 1.
func Summarize(start, end time.Time, minutes []Minute) Window {
	return NewSeries(start, end, minutes).Summarize(start, end)
}

// Daily splits [start, end), truncated to the minute in UTC, at UTC midnight
// and summarizes each piece, oldest first. The first and last days are
// partial when start or end is not at midnight. An empty span gives nil.
func Daily(start, end time.Time, minutes []Minute) []Window {
	return NewSeries(start, end, minutes).Daily(start, end)
}

// Series holds the status of every minute of a span, so that Summarize and
// Daily over parts of it cost one pass over those minutes: a site's 90 days
// are read once for all of GetSiteUptime's windows and bars.
type Series struct {
	start  time.Time // UTC, on a minute
	status []Status  // one per minute of the span; the zero value is NO_DATA
}

// NewSeries returns the series of [start, end), truncated to the minute in
// UTC, with the rules of Summarize: minutes outside the span are ignored and
// the later of two entries for one minute wins.
func NewSeries(start, end time.Time, minutes []Minute) *Series {
	start, end = start.UTC().Truncate(time.Minute), end.UTC().Truncate(time.Minute)
	s := &Series{start: start}
	if end.After(start) {
		s.status = make([]Status, end.Sub(start)/time.Minute)
	}
	for _, m := range minutes {
		s.Set(m.Start, m.Status)
	}
	return s
}

// Set records the status of the minute holding t, if it is in the span.
func (s *Series) Set(t time.Time, st Status) {
	t = t.UTC().Truncate(time.Minute)
	if t.Before(s.start) {
		return
	}
	if i := int64(t.Sub(s.start) / time.Minute); i < int64(len(s.status)) {
		s.status[i] = st
	}
}

// Summarize returns the uptime over [start, end), truncated to the minute
// in UTC; minutes outside the series are NO_DATA.
func (s *Series) Summarize(start, end time.Time) Window {
	w := Window{Start: start.UTC().Truncate(time.Minute), End: end.UTC().Truncate(time.Minute), Ratio: 1}
	if !w.End.After(w.Start) {
		w.End = w.Start
		return w
	}
	var counts [StatusMaintenance + 1]int64
	from := max(int64(w.Start.Sub(s.start)/time.Minute), 0)
	to := min(int64(w.End.Sub(s.start)/time.Minute), int64(len(s.status)))
	for i := from; i < to; i++ {
		if st := s.status[i]; st <= StatusMaintenance {
			counts[st]++
		}
	}
	return Count(start, end, counts[StatusUp], counts[StatusDegraded], counts[StatusDown], counts[StatusMaintenance])
}

// Count is the Window over [start, end), truncated to the minute in UTC,
// holding up, degraded, down and maintenance minutes; the span's other
// minutes are NO_DATA. It is Summarize for callers that counted the
// minutes themselves.
func Count(start, end time.Time, up, degraded, down, maintenance int64) Window {
	w := Window{Start: start.UTC().Truncate(time.Minute), End: end.UTC().Truncate(time.Minute), Ratio: 1}
	if !w.End.After(w.Start) {
		w.End = w.Start
		return w
	}
	w.Up, w.Degraded, w.Down, w.Maintenance = up, degraded, down, maintenance
	w.Counted = w.Up + w.Degraded + w.Down
	w.NoData = int64(w.End.Sub(w.Start)/time.Minute) - w.Counted - w.Maintenance
	if w.Counted > 0 {
		w.Ratio = float64(w.Up+w.Degraded) / float64(w.Counted)
	}
	return w
}

// Daily splits [start, end) at UTC midnight and summarizes each piece, as
// the package's Daily does.
func (s *Series) Daily(start, end time.Time) []Window {
	start, end = start.UTC().Truncate(time.Minute), end.UTC().Truncate(time.Minute)
	var days []Window
	for from := start; from.Before(end); {
		to := midnight(from).AddDate(0, 0, 1)
		if to.After(end) {
			to = end
		}
		days = append(days, s.Summarize(from, to))
		from = to
	}
	return days
}

// midnight returns the start of the UTC day holding t, which must be in UTC.
func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// MonthRange parses a calendar month "YYYY-MM" (e.g. "2026-11") and returns
// its span in UTC: start is the first minute of the month and end the first
// minute of the next. Anything else is an error wrapping ErrInvalidMonth
// that says what to fix.
func MonthRange(month string) (start, end time.Time, err error) {
	digits := func(s string) bool {
		for _, c := range s {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	// Checked by hand: time.Parse would take "+202-11" or "-001-11" as a year.
	if len(month) != 7 || month[4] != '-' || !digits(month[:4]) || !digits(month[5:]) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w %q: want YYYY-MM, e.g. \"2026-11\"", ErrInvalidMonth, month)
	}
	year, _ := strconv.Atoi(month[:4]) // only digits: cannot fail
	mon, _ := strconv.Atoi(month[5:])
	if mon < 1 || mon > 12 {
		return time.Time{}, time.Time{}, fmt.Errorf("%w %q: the month must be 01 to 12", ErrInvalidMonth, month)
	}
	start = time.Date(year, time.Month(mon), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0), nil
}
