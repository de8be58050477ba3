// Package chart renders the dashboard's charts as inline SVG on the server:
// a row of daily uptime bars (UptimeBars) and a latency line chart
// (LatencyChart), plus Percent, the one formatter of uptime ratios the pages
// and the SLA report share.
//
// The pages run under a strict Content-Security-Policy (style-src 'self', no
// inline scripts), so the SVG carries no style attributes and no scripts:
// colours come from CSS classes, with presentation attributes (fill,
// stroke) as defaults that the stylesheet overrides. Tooltips are SVG
// <title> elements, which browsers show on hover without any script.
//
// Every function returns template.HTML for html/template. That is safe
// because every piece of text that reaches the output (labels, dates) is
// escaped here; numbers are formatted here.
package chart
