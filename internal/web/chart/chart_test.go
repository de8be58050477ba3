package chart

import (
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// element is one start element of a parsed SVG, with its text content.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parse decodes the whole output as XML and returns its elements in
// document order; it fails the test when the output is not well-formed or
// carries anything the pages' CSP forbids.
func parse(t *testing.T, out template.HTML) []element {
	t.Helper()
	s := string(out)
	if strings.Contains(s, "style=") || strings.Contains(strings.ToLower(s), "<script") {
		t.Fatalf("output has a style attribute or a script: %s", s)
	}
	d := xml.NewDecoder(strings.NewReader(s))
	var els []element
	var open []int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("output is not XML: %v\n%s", err, s)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			els = append(els, e)
			open = append(open, len(els)-1)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				els[open[len(open)-1]].text += string(tok)
			}
		}
	}
	if len(els) == 0 || els[0].name != "svg" {
		t.Fatalf("output is not one <svg>: %s", s)
	}
	return els
}

// named returns the elements called name.
func named(els []element, name string) []element {
	var r []element
	for _, e := range els {
		if e.name == name {
			r = append(r, e)
		}
	}
	return r
}

// checkRoot asserts the accessible name and title of a chart.
func checkRoot(t *testing.T, els []element, label string) {
	t.Helper()
	root := els[0]
	if root.attrs["role"] != "img" || root.attrs["aria-label"] != label {
		t.Errorf("root role=%q aria-label=%q, want img and %q", root.attrs["role"], root.attrs["aria-label"], label)
	}
	if els[1].name != "title" || els[1].text != label {
		t.Errorf("first child is <%s>%q, want <title>%q", els[1].name, els[1].text, label)
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		want  string
	}{
		{1, "100.00 %"},
		{0.99995, "99.99 %"},
		{0.999999999, "99.99 %"},
		{0.9995, "99.95 %"},
		{0.5, "50.00 %"},
		{0, "0.00 %"},
		{0.00001, "0.00 %"},
		{1.2, "100.00 %"},
		{-0.1, "0.00 %"},
		{math.NaN(), "0.00 %"},
	} {
		if got := Percent(tc.ratio); got != tc.want {
			t.Errorf("Percent(%v) = %q, want %q", tc.ratio, got, tc.want)
		}
	}
}

func TestUptimeBars(t *testing.T) {
	days := []Day{
		{Date: "2026-11-20", Ratio: 1, Counted: 1440},
		{Date: "2026-11-21", Ratio: 1439.0 / 1440, Counted: 1440, Down: 1},
		{Date: "2026-11-22", Ratio: 1, Counted: 1440, Degraded: 30},
		{Date: "2026-11-23", Ratio: 0.95, Counted: 1440, Down: 72},
		{Date: "2026-11-24", Ratio: 1, NoData: 1440},
		{Date: "2026-11-25", Ratio: 1, Maintenance: 1440},
		{Date: "2026-11-26", Ratio: 1, Counted: 1380, Maintenance: 60},
		{Date: "2026-11-27", Ratio: 0.98, Counted: 1440, Degraded: 40},
	}
	label := "example.com: uptime, last 8 days"
	els := parse(t, UptimeBars(days, BarsOptions{Label: label}))
	checkRoot(t, els, label)
	if els[0].attrs["width"] != "100%" || els[0].attrs["preserveAspectRatio"] != "none" {
		t.Errorf("root attrs %v: want width 100%% and preserveAspectRatio none", els[0].attrs)
	}
	var classes, titles []string
	for _, r := range named(els, "rect") {
		classes = append(classes, r.attrs["class"])
	}
	for _, e := range named(els, "title")[1:] {
		titles = append(titles, e.text)
	}
	wantClasses := []string{"bar-up", "bar-degraded", "bar-degraded", "bar-down", "bar-nodata", "bar-maint", "bar-up", "bar-degraded"}
	if diff := cmp.Diff(wantClasses, classes); diff != "" {
		t.Errorf("bar classes (-want +got):\n%s", diff)
	}
	wantTitles := []string{
		"2026-11-20: 100.00 % up",
		"2026-11-21: 99.93 % up, 1 min down",
		"2026-11-22: 100.00 % up, 30 min degraded",
		"2026-11-23: 95.00 % up, 72 min down",
		"2026-11-24: no data",
		"2026-11-25: maintenance",
		"2026-11-26: 100.00 % up, 60 min maintenance",
		"2026-11-27: 98.00 % up, 40 min degraded",
	}
	if diff := cmp.Diff(wantTitles, titles); diff != "" {
		t.Errorf("bar titles (-want +got):\n%s", diff)
	}
}

func TestUptimeBars90(t *testing.T) {
	els := parse(t, UptimeBars(days90(), BarsOptions{Label: "x"}))
	rects := named(els, "rect")
	if len(rects) != 90 {
		t.Fatalf("%d rects, want 90", len(rects))
	}
	if got, want := els[0].attrs["viewBox"], "0 0 898 34"; got != want {
		t.Errorf("viewBox %q, want %q", got, want)
	}
	if got := rects[89].attrs["x"]; got != "890" {
		t.Errorf("last bar at x=%s, want 890", got)
	}
}

func TestEscaping(t *testing.T) {
	label := `a<b>&"c'`
	for name, out := range map[string]template.HTML{
		"bars":    UptimeBars([]Day{{Date: "<d>", Ratio: 1, Counted: 1}}, BarsOptions{Label: label}),
		"nobars":  UptimeBars(nil, BarsOptions{Label: label}),
		"latency": LatencyChart(points(3), LineOptions{Label: label}),
		"empty":   LatencyChart(nil, LineOptions{Label: label}),
	} {
		t.Run(name, func(t *testing.T) {
			els := parse(t, out)
			checkRoot(t, els, label)
			if strings.Contains(string(out), "<b>") || strings.Contains(string(out), "<d>") {
				t.Errorf("unescaped text in %s", out)
			}
		})
	}
}

// points returns n points a minute apart with rising latencies.
func points(n int) []Point {
	t0 := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)
	ps := make([]Point, n)
	for i := range ps {
		ps[i] = Point{Time: t0.Add(time.Duration(i) * time.Minute), P50: 20 + float64(i), P95: 80 + 2*float64(i)}
	}
	return ps
}

// lines counts the polylines and dots of each series.
func lines(els []element) map[string]int {
	n := map[string]int{}
	for _, e := range els {
		if (e.name == "polyline" || e.name == "circle") && strings.HasPrefix(e.attrs["class"], "line-") {
			n[e.name+"."+e.attrs["class"]]++
		}
	}
	return n
}

func TestLatencyChart(t *testing.T) {
	label := "example.com: latency, last 24 hours"
	els := parse(t, LatencyChart(points(10), LineOptions{Label: label}))
	checkRoot(t, els, label)
	if got := els[0].attrs["viewBox"]; got != "0 0 600 160" {
		t.Errorf("viewBox %q, want the default 0 0 600 160", got)
	}
	if diff := cmp.Diff(map[string]int{"polyline.line-p50": 1, "polyline.line-p95": 1}, lines(els)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	var axis []string
	for _, e := range named(els, "text") {
		if e.attrs["class"] == "axis" {
			axis = append(axis, e.text)
		}
	}
	// max 98 ms → ticks of 50 ms: 0, 50, 100.
	want := []string{"0 ms", "50 ms", "100 ms", "Nov 27 14:00", "Nov 27 14:09"}
	if diff := cmp.Diff(want, axis); diff != "" {
		t.Errorf("axis labels (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(LatencyChart(points(10), LineOptions{Label: label})), ">p95<") {
		t.Error("no legend")
	}
}

func TestLatencyChartGaps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pts   func() []Point
		lines map[string]int
	}{
		{"NaN in the middle", func() []Point {
			p := points(9)
			p[4].P50, p[4].P95 = math.NaN(), math.NaN()
			return p
		}, map[string]int{"polyline.line-p50": 2, "polyline.line-p95": 2}},
		{"zero samples in the middle", func() []Point {
			p := points(9)
			p[4].P50, p[4].P95 = 0, 0
			return p
		}, map[string]int{"polyline.line-p50": 2, "polyline.line-p95": 2}},
		{"missing interval", func() []Point {
			p := points(9)
			return append(p[:4:4], p[5:]...)
		}, map[string]int{"polyline.line-p50": 2, "polyline.line-p95": 2}},
		{"only p95 missing", func() []Point {
			p := points(9)
			p[4].P95 = math.NaN()
			return p
		}, map[string]int{"polyline.line-p50": 1, "polyline.line-p95": 2}},
		{"lone value", func() []Point {
			p := points(9)
			p[3].P50, p[5].P50 = math.NaN(), math.NaN()
			return p
		}, map[string]int{"polyline.line-p50": 2, "circle.line-p50": 1, "polyline.line-p95": 1}},
		{"out of order", func() []Point {
			p := points(9)
			p[0], p[8] = p[8], p[0]
			return p
		}, map[string]int{"polyline.line-p50": 1, "polyline.line-p95": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			els := parse(t, LatencyChart(tc.pts(), LineOptions{}))
			if diff := cmp.Diff(tc.lines, lines(els)); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLatencyChartEmpty(t *testing.T) {
	nan := []Point{{Time: time.Now(), P50: math.NaN(), P95: math.NaN()}}
	for name, pts := range map[string][]Point{"nil": nil, "no values": nan} {
		t.Run(name, func(t *testing.T) {
			els := parse(t, LatencyChart(pts, LineOptions{Label: "l"}))
			checkRoot(t, els, "l")
			texts := named(els, "text")
			if len(texts) != 1 || texts[0].text != "No measurements yet" {
				t.Errorf("texts %v, want one \"No measurements yet\"", texts)
			}
		})
	}
}

func TestYTicks(t *testing.T) {
	for _, maxV := range []float64{0.01, 0.3, 1, 2.9, 3, 7, 10, 12, 31, 98, 100, 101, 250, 999, 1001, 7300} {
		step, n := yTicks(maxV)
		if n < 2 || n > 3 || step*float64(n) < maxV {
			t.Errorf("yTicks(%v) = %v×%d: want 2 or 3 steps covering the maximum", maxV, step, n)
		}
		if l := msLabel(step); len(l) > 8 {
			t.Errorf("yTicks(%v): step label %q is not round", maxV, l)
		}
	}
}

func days90() []Day {
	days := make([]Day, 90)
	d0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	for i := range days {
		days[i] = Day{Date: d0.AddDate(0, 0, i).Format(time.DateOnly), Ratio: 1, Counted: 1440}
		switch i % 10 {
		case 3:
			days[i].Down, days[i].Ratio = 3, 1437.0/1440
		case 7:
			days[i].Down, days[i].Ratio = 100, 1340.0/1440
		}
	}
	return days
}

func BenchmarkUptimeBars90(b *testing.B) {
	days := days90()
	for b.Loop() {
		UptimeBars(days, BarsOptions{Label: "example.com: uptime, last 90 days"})
	}
}

func ExamplePercent() {
	fmt.Println(Percent(0.9995), Percent(0.99999), Percent(1))
	// Output: 99.95 % 99.99 % 100.00 %
}
