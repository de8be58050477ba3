package certs

import (
	"math/rand/v2"
	"time"
)

// backoff computes retry delays that double from min up to max, each spread
// by ±20% so that nodes that lost the control plane together do not come
// back in step.
type backoff struct {
	min, max time.Duration
}

// delay returns the wait before retry number attempt (0 for the first).
func (b backoff) delay(attempt int) time.Duration {
	d := b.min
	for i := 0; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
