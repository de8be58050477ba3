package client

import (
	"math/rand/v2"
	"time"
)

// backoff computes retry delays that double from min up to max, each spread
// by ±20% and kept within [min, max], so that many agents that lost berthd at
// the same moment do not come back in step. The zero value is not usable;
// set min and max.
type backoff struct {
	min, max time.Duration
	rand     func() float64 // in [0, 1); nil means math/rand/v2
}

// delay returns the wait before retry number attempt (0 for the first).
func (b backoff) delay(attempt int) time.Duration {
	d := b.min
	for i := 0; i < attempt && d < b.max; i++ {
		d *= 2
	}
	return max(b.min, min(b.max, jitter(d, b.rand)))
}

// jitter spreads a period by ±20%, so that the heartbeats of agents started
// together drift apart.
func jitter(d time.Duration, r func() float64) time.Duration {
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(float64(d) * (0.8 + 0.4*r()))
}
