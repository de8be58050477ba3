package chart

import (
	"math"
	"strconv"
)

// Percent formats an uptime ratio (0..1) as a percentage with two decimals
// and a space before the sign: 0.9995 → "99.95 %". A ratio below 1 is never
// shown as "100.00 %" (0.99999 → "99.99 %"), since a page or an SLA report
// that claims 100 % while minutes were lost is wrong. Ratios outside 0..1
// are clamped; NaN gives "0.00 %".
func Percent(ratio float64) string {
	switch {
	case math.IsNaN(ratio) || ratio <= 0:
		return "0.00 %"
	case ratio >= 1:
		return "100.00 %"
	}
	s := strconv.FormatFloat(ratio*100, 'f', 2, 64)
	if s == "100.00" {
		s = "99.99"
	}
	return s + " %"
}
