package auth

import (
	"slices"
	"sync"
	"time"
)

// LoginLimiter slows password guessing: after MaxFailures failed logins for
// one key (an email, or a peer address) within Window, further attempts for
// that key are refused until the window has passed. Safe for concurrent use.
type LoginLimiter struct {
	maxFailures int
	window      time.Duration
	now         func() time.Time

	mu       sync.Mutex // guards failures
	failures map[string][]time.Time
}

// LimiterOptions configures a LoginLimiter; zero values mean the defaults.
type LimiterOptions struct {
	// MaxFailures is how many failures a key may have in Window (default 5).
	MaxFailures int
	// Window is the period failures are counted over (default 15 minutes).
	Window time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewLoginLimiter returns a limiter.
func NewLoginLimiter(o LimiterOptions) *LoginLimiter {
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &LoginLimiter{maxFailures: o.MaxFailures, window: o.Window, now: o.Now, failures: map[string][]time.Time{}}
}

// Allow reports whether an attempt for all the keys may proceed and, when it
// may not, how long until it may.
func (l *LoginLimiter) Allow(keys ...string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		f := l.prune(k, now)
		if len(f) >= l.maxFailures {
			wait := f[0].Add(l.window).Sub(now)
			if wait > retryAfter {
				retryAfter = wait
			}
		}
	}
	return retryAfter == 0, retryAfter
}

// Attempt checks and records an attempt for every key in one step, so that
// parallel guesses cannot all pass the check before any is recorded. The
// attempt counts as a failure until undo is called, which a caller does when
// the attempt succeeds.
func (l *LoginLimiter) Attempt(keys ...string) (ok bool, retryAfter time.Duration, undo func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		f := l.prune(k, now)
		if len(f) >= l.maxFailures {
			if wait := f[0].Add(l.window).Sub(now); wait > retryAfter {
				retryAfter = wait
			}
		}
	}
	if retryAfter > 0 {
		return false, retryAfter, func() {}
	}
	for _, k := range keys {
		l.failures[k] = append(l.failures[k], now)
	}
	return true, 0, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, k := range keys {
			f := l.failures[k]
			if i := slices.Index(f, now); i >= 0 {
				l.failures[k] = slices.Delete(f, i, i+1)
			}
		}
	}
}

// Fail records a failed attempt for every key.
func (l *LoginLimiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.failures[k] = append(l.prune(k, now), now)
	}
	// Bound memory under a spray of distinct keys: forget keys with no recent failures.
	if len(l.failures) > 100_000 {
		for k := range l.failures {
			if len(l.prune(k, now)) == 0 {
				delete(l.failures, k)
			}
		}
	}
}

// Succeed forgets the failures of a key after a successful login.
func (l *LoginLimiter) Succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

// prune drops failures older than the window; l.mu must be held.
func (l *LoginLimiter) prune(key string, now time.Time) []time.Time {
	f := l.failures[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = f
	return f
}
