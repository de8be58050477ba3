package chart

import (
	"cmp"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Point is one interval of latency measurements.
type Point struct {
	Time     time.Time
	P50, P95 float64 // milliseconds; NaN or ≤ 0 when the interval has no samples
}

// LineOptions configures LatencyChart.
type LineOptions struct {
	// Label is the chart's accessible name and title.
	Label string
	// Width and Height are the viewBox size; 0 means 600×160.
	Width, Height int
}

// Margins of the plot area inside the viewBox, room for the legend (top),
// the y labels (left) and the x labels (bottom).
const (
	marginTop    = 22
	marginRight  = 8
	marginBottom = 20
	marginLeft   = 56
)

// series are the two lines, with their classes and default strokes.
var series = [...]struct {
	name, class, stroke string
	value               func(Point) float64
}{
	{"p50", "line-p50", "#2563eb", func(p Point) float64 { return p.P50 }},
	{"p95", "line-p95", "#f59e0b", func(p Point) float64 { return p.P95 }},
}

// LatencyChart renders p50 and p95 latency over time as two polylines
// (classes line-p50 and line-p95) with a legend, a y axis of three or four
// round millisecond ticks and the first and last times (UTC) under the x
// axis. A value that is NaN, infinite or ≤ 0 is missing, and so is an
// interval absent from points (a step more than 1.5 times the usual one):
// the line breaks there rather than drawing across, and a lone value
// between two gaps is drawn as a dot. Points may come in any order.
// Without any value the chart is a small "No measurements yet" image.
func LatencyChart(points []Point, opts LineOptions) template.HTML {
	w, h := float64(opts.Width), float64(opts.Height)
	if w <= 0 {
		w = 600
	}
	if h <= 0 {
		h = 160
	}
	pts := slices.Clone(points)
	slices.SortStableFunc(pts, func(a, b Point) int { return a.Time.Compare(b.Time) })
	maxV := 0.0
	for _, p := range pts {
		for _, s := range series {
			if v := s.value(p); valid(v) && v > maxV {
				maxV = v
			}
		}
	}
	if maxV == 0 {
		return emptySVG("latency", opts.Label, "No measurements yet")
	}
	step, n := yTicks(maxV)
	top := step * float64(n)
	t0, t1 := pts[0].Time, pts[len(pts)-1].Time
	span := t1.Sub(t0)
	plotW, plotH := w-marginLeft-marginRight, h-marginTop-marginBottom
	x := func(t time.Time) float64 {
		if span <= 0 {
			return marginLeft + plotW/2
		}
		return marginLeft + plotW*float64(t.Sub(t0))/float64(span)
	}
	y := func(v float64) float64 { return marginTop + plotH*(1-v/top) }

	var b strings.Builder
	b.Grow(1200 + 40*len(pts))
	svgOpen(&b, "latency", opts.Label, w, h, ` width="100%"`)

	// Grid lines and y labels.
	for i := 0; i <= n; i++ {
		v := step * float64(i)
		yy := num(y(v))
		b.WriteString(`<line class="grid" x1="` + num(marginLeft) + `" x2="` + num(w-marginRight) +
			`" y1="` + yy + `" y2="` + yy + `" stroke="#e5e7eb"/>`)
		b.WriteString(`<text class="axis" x="` + num(marginLeft-6) + `" y="` + yy +
			`" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#6b7280">` + msLabel(v) + `</text>`)
	}
	// Start and end times.
	by := num(h - 5)
	b.WriteString(`<text class="axis" x="` + num(marginLeft) + `" y="` + by +
		`" text-anchor="start" font-size="11" fill="#6b7280">` + timeLabel(t0) + `</text>`)
	if span > 0 {
		b.WriteString(`<text class="axis" x="` + num(w-marginRight) + `" y="` + by +
			`" text-anchor="end" font-size="11" fill="#6b7280">` + timeLabel(t1) + `</text>`)
	}
	// Legend.
	for i, s := range series {
		lx := marginLeft + float64(i)*64
		b.WriteString(`<g class="legend"><line class="` + s.class + `" x1="` + num(lx) + `" x2="` + num(lx+16) +
			`" y1="9" y2="9" stroke="` + s.stroke + `" stroke-width="2"/><text x="` + num(lx+20) +
			`" y="9" dominant-baseline="middle" font-size="11" fill="#374151">` + s.name + `</text></g>`)
	}
	// Lines, broken at missing values and missing intervals.
	gap := gapAfter(pts)
	for _, s := range series {
		var seg []Point
		flush := func() {
			switch len(seg) {
			case 0:
			case 1:
				b.WriteString(`<circle class="` + s.class + `" cx="` + num(x(seg[0].Time)) + `" cy="` +
					num(y(s.value(seg[0]))) + `" r="2" fill="` + s.stroke + `"/>`)
			default:
				b.WriteString(`<polyline class="` + s.class + `" fill="none" stroke="` + s.stroke +
					`" stroke-width="2" stroke-linejoin="round" points="`)
				for i, p := range seg {
					if i > 0 {
						b.WriteByte(' ')
					}
					b.WriteString(num(x(p.Time)))
					b.WriteByte(',')
					b.WriteString(num(y(s.value(p))))
				}
				b.WriteString(`"/>`)
			}
			seg = seg[:0]
		}
		for _, p := range pts {
			if !valid(s.value(p)) {
				flush()
				continue
			}
			if len(seg) > 0 && p.Time.Sub(seg[len(seg)-1].Time) > gap {
				flush()
			}
			seg = append(seg, p)
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// valid reports whether v is a measured latency.
func valid(v float64) bool { return v > 0 && !math.IsInf(v, 1) }

// gapAfter is the longest step between two points that still draws a line:
// 1.5 times the median step, so one missing interval breaks the line while
// jitter in the timestamps does not. With fewer than three points there is
// no usual step and nothing counts as a gap.
func gapAfter(pts []Point) time.Duration {
	if len(pts) < 3 {
		return math.MaxInt64
	}
	steps := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		steps = append(steps, pts[i].Time.Sub(pts[i-1].Time))
	}
	slices.SortFunc(steps, cmp.Compare)
	med := steps[len(steps)/2]
	if med <= 0 {
		return math.MaxInt64
	}
	return med + med/2
}

// yTicks picks a round step (1, 2, 2.5 or 5 times a power of ten) and a
// count n ∈ {2, 3} such that n·step ≥ maxV: the axis gets three or four
// labels from 0. n is never 1, because the next smaller candidate step is at
// most 2.5 times smaller and needed more than three steps.
func yTicks(maxV float64) (step float64, n int) {
	pow := math.Pow(10, math.Floor(math.Log10(maxV/3)))
	for _, m := range []float64{1, 2, 2.5, 5, 10, 20} {
		step = m * pow
		if n = int(math.Ceil(maxV/step - 1e-9)); n <= 3 {
			return step, max(n, 1)
		}
	}
	return step, n
}

// msLabel formats a tick value: "250 ms", "0.5 ms".
func msLabel(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64) + " ms"
}

// timeLabel formats an axis time in UTC: "Nov 27 14:00".
func timeLabel(t time.Time) string { return t.UTC().Format("Jan 2 15:04") }
