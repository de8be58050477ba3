package chart

import (
	"html/template"
	"strconv"
	"strings"
)

// Day is one day of a site's uptime, as the uptime package counts it: every
// minute of the day is in exactly one of up, degraded, down, no data and
// maintenance, and Counted = up + degraded + down.
type Day struct {
	Date  string  // "2026-11-28"
	Ratio float64 // uptime of the counted minutes, 0..1
	// Minutes of the day by verdict.
	Counted, Down, Degraded, NoData, Maintenance int64
}

// BarsOptions configures UptimeBars.
type BarsOptions struct {
	// Label is the chart's accessible name and title, e.g.
	// "example.com: uptime, last 90 days".
	Label string
}

// Bar geometry in viewBox units: 90 bars make a 898×34 box that the page
// stretches to its container's width.
const (
	barWidth  = 8
	barGap    = 2
	barHeight = 34
)

// verdict classes and their default fills, which the stylesheet overrides.
var barFill = map[string]string{
	"bar-up":       "#16a34a",
	"bar-degraded": "#f59e0b",
	"bar-down":     "#dc2626",
	"bar-nodata":   "#d1d5db",
	"bar-maint":    "#60a5fa",
}

// UptimeBars renders one bar per day, oldest first, as an SVG that is 100 %
// wide (viewBox plus preserveAspectRatio="none") and a fixed height. Each
// bar has a <title> tooltip ("2026-11-28: 99.95 % up, 1 min down") and one
// class by the day's verdict:
//
//   - bar-nodata: nothing was counted and there was no maintenance
//     (Counted == 0, Maintenance == 0);
//   - bar-maint: only maintenance (Counted == 0, Maintenance > 0);
//   - bar-up: no down and no degraded minute;
//   - bar-down: some down minutes and Ratio < 0.99;
//   - bar-degraded: everything else, i.e. degraded minutes, or down minutes
//     that still leave Ratio ≥ 0.99.
//
// No days gives a small "No data yet" image.
func UptimeBars(days []Day, opts BarsOptions) template.HTML {
	if len(days) == 0 {
		return emptySVG("uptime-bars", opts.Label, "No data yet")
	}
	var b strings.Builder
	b.Grow(300 + 160*len(days))
	w := float64(len(days)*(barWidth+barGap) - barGap)
	svgOpen(&b, "uptime-bars", opts.Label, w, barHeight,
		` width="100%" height="`+strconv.Itoa(barHeight)+`" preserveAspectRatio="none"`)
	for i, d := range days {
		class := barClass(d)
		b.WriteString(`<rect class="`)
		b.WriteString(class)
		b.WriteString(`" x="`)
		b.WriteString(strconv.Itoa(i * (barWidth + barGap)))
		b.WriteString(`" y="0" width="` + strconv.Itoa(barWidth) + `" height="` + strconv.Itoa(barHeight) + `" fill="`)
		b.WriteString(barFill[class])
		b.WriteString(`"><title>`)
		b.WriteString(template.HTMLEscapeString(barTitle(d)))
		b.WriteString(`</title></rect>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barClass is the day's verdict class; see UptimeBars.
func barClass(d Day) string {
	switch {
	case d.Counted == 0 && d.Maintenance == 0:
		return "bar-nodata"
	case d.Counted == 0:
		return "bar-maint"
	case d.Down == 0 && d.Degraded == 0:
		return "bar-up"
	case d.Down > 0 && d.Ratio < 0.99:
		return "bar-down"
	default:
		return "bar-degraded"
	}
}

// barTitle is a bar's tooltip.
func barTitle(d Day) string {
	switch barClass(d) {
	case "bar-nodata":
		return d.Date + ": no data"
	case "bar-maint":
		return d.Date + ": maintenance"
	}
	s := d.Date + ": " + Percent(d.Ratio) + " up"
	for _, part := range []struct {
		min  int64
		what string
	}{{d.Down, "down"}, {d.Degraded, "degraded"}, {d.Maintenance, "maintenance"}} {
		if part.min > 0 {
			s += ", " + strconv.FormatInt(part.min, 10) + " min " + part.what
		}
	}
	return s
}
