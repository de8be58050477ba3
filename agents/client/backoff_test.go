package client

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	b := backoff{min: time.Second, max: time.Minute}
	for _, r := range []float64{0, 0.5, 0.999999} {
		b.rand = func() float64 { return r }
		prev := time.Duration(0)
		for attempt := range 20 {
			d := b.delay(attempt)
			if d < time.Second || d > time.Minute {
				t.Errorf("rand %v: delay(%d) = %v, want within [1s, 60s]", r, attempt, d)
			}
			if d < prev {
				t.Errorf("rand %v: delay(%d) = %v shrank from %v", r, attempt, d, prev)
			}
			prev = d
		}
	}
	b.rand = func() float64 { return 0.5 } // no jitter
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		if got := b.delay(attempt); got != want {
			t.Errorf("delay(%d) without jitter = %v, want %v", attempt, got, want)
		}
	}
	// Huge attempt counts neither overflow nor tight-loop.
	if got := b.delay(1 << 30); got < 48*time.Second || got > time.Minute {
		t.Errorf("delay(1<<30) = %v", got)
	}
	// Jitter spreads retries: 100 agents at attempt 3 do not all wait the same.
	b.rand = rand.Float64
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[b.delay(3)] = true
	}
	if len(seen) < 50 {
		t.Errorf("100 delays took only %d values", len(seen))
	}
}

func TestJitter(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999999} {
		got := jitter(5*time.Second, func() float64 { return r })
		if got < 4*time.Second || got > 6*time.Second {
			t.Errorf("jitter(5s) with rand %v = %v, want within ±20%%", r, got)
		}
	}
}

func TestRenewAt(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := newTestCA(t)
	id, _, _ := ca.identity(t, "node_01", "a:1", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	leaf := *id.Cert.Leaf
	leaf.NotBefore, leaf.NotAfter = nb, nb.Add(90*time.Hour)
	if got, want := renewAt(&leaf), nb.Add(60*time.Hour); !got.Equal(want) {
		t.Errorf("renewAt = %v, want %v (a third of the lifetime left)", got, want)
	}
}

func TestParseMemInfo(t *testing.T) {
	total, used := parseMemInfo([]byte("MemTotal:        8048576 kB\nMemFree:          100000 kB\nMemAvailable:    6000000 kB\n"))
	if total != 7859 || used != 2000 {
		t.Errorf("parseMemInfo = %d MiB total, %d MiB used; want 7859, 2000", total, used)
	}
}
