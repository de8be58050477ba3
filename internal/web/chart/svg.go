package chart

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// svgOpen writes the root element shared by every chart: an image for
// assistive technology, named by label, with the label also as <title>.
func svgOpen(b *strings.Builder, class, label string, w, h float64, extra string) {
	l := template.HTMLEscapeString(label)
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart `)
	b.WriteString(class)
	b.WriteString(`" role="img" aria-label="`)
	b.WriteString(l)
	b.WriteString(`" viewBox="0 0 `)
	b.WriteString(num(w))
	b.WriteByte(' ')
	b.WriteString(num(h))
	b.WriteByte('"')
	b.WriteString(extra)
	b.WriteString(`><title>`)
	b.WriteString(l)
	b.WriteString(`</title>`)
}

// num formats a coordinate with at most two decimals, which is finer than
// any screen needs and keeps the markup short.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

// emptySVG is the small chart shown instead of an empty one.
func emptySVG(class, label, text string) template.HTML {
	var b strings.Builder
	svgOpen(&b, class+" chart-empty", label, 300, 40, ` width="300" height="40"`)
	b.WriteString(`<text class="empty" x="150" y="24" text-anchor="middle" fill="#6b7280" font-size="14">`)
	b.WriteString(template.HTMLEscapeString(text))
	b.WriteString(`</text></svg>`)
	return template.HTML(b.String())
}
