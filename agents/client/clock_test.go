package client

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex // guards the fields below
	now     time.Time
	waiters []fakeWaiter
	history []time.Duration // every duration passed to After, in order
	added   chan struct{}   // closed (and replaced) when After adds a timer
}

type fakeWaiter struct {
	at time.Time
	d  time.Duration // as passed to After
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now(), added: make(chan struct{})} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history = append(c.history, d)
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), d: d, ch: ch})
	close(c.added)
	c.added = make(chan struct{})
	return ch
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// afters returns the durations passed to After so far.
func (c *fakeClock) afters() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.history...)
}

// waitTimer waits until a timer is pending whose duration (as passed to
// After) satisfies match, and returns its deadline. It fails the test after
// 10 real seconds, listing the pending timers.
func (c *fakeClock) waitTimer(t *testing.T, what string, match func(d time.Duration) bool) time.Time {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		var pending []time.Duration
		for _, w := range c.waiters {
			if match(w.d) {
				c.mu.Unlock()
				return w.at
			}
			pending = append(pending, w.d)
		}
		added := c.added
		c.mu.Unlock()
		select {
		case <-added:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s; pending timers: %v", what, pending)
		}
	}
}
