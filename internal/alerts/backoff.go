package alerts

import "time"

// MaxAttempts is how many times a delivery is tried before it is failed.
const MaxAttempts = 8

// backoff is the wait after the nth failed attempt; the last entry repeats.
var backoff = [...]time.Duration{
	10 * time.Second,
	30 * time.Second,
	time.Minute,
	5 * time.Minute,
	15 * time.Minute,
	time.Hour,
}

// NextAttempt says when to try a delivery again after attempt, the number
// of attempts made so far, the last of which failed at now: 10 s after the
// first, then 30 s, 1 m, 5 m, 15 m and 1 h after each later one. After
// MaxAttempts attempts (about 2 h 22 m in all) it gives up: it returns the
// zero time and true, and the delivery is failed. An attempt below 1 means
// none was made yet: try now.
//
// The schedule has no jitter: deliveries fail together only when a channel
// does, and then they are spread by when their events happened.
func NextAttempt(attempt int, now time.Time) (time.Time, bool) {
	switch {
	case attempt < 1:
		return now, false
	case attempt >= MaxAttempts:
		return time.Time{}, true
	}
	return now.Add(backoff[min(attempt, len(backoff))-1]), false
}
