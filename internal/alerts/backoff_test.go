package alerts

import (
	"testing"
	"time"
)

func TestNextAttempt(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		attempt int
		wait    time.Duration
		giveUp  bool
	}{
		{attempt: -1, wait: 0},
		{attempt: 0, wait: 0},
		{attempt: 1, wait: 10 * time.Second},
		{attempt: 2, wait: 30 * time.Second},
		{attempt: 3, wait: time.Minute},
		{attempt: 4, wait: 5 * time.Minute},
		{attempt: 5, wait: 15 * time.Minute},
		{attempt: 6, wait: time.Hour},
		{attempt: 7, wait: time.Hour}, // capped
		{attempt: 8, giveUp: true},    // MaxAttempts made
		{attempt: 9, giveUp: true},
		{attempt: 1000, giveUp: true},
	}
	for _, tt := range tests {
		at, giveUp := NextAttempt(tt.attempt, now)
		if giveUp != tt.giveUp {
			t.Errorf("NextAttempt(%d): give up = %v, want %v", tt.attempt, giveUp, tt.giveUp)
			continue
		}
		if giveUp {
			if !at.IsZero() {
				t.Errorf("NextAttempt(%d) gives up with time %v, want the zero time", tt.attempt, at)
			}
			continue
		}
		if got := at.Sub(now); got != tt.wait {
			t.Errorf("NextAttempt(%d) = now+%v, want now+%v", tt.attempt, got, tt.wait)
		}
	}
}

// TestNextAttemptSchedule walks a delivery that always fails: it is tried
// MaxAttempts times over about 2 h 22 m, then given up.
func TestNextAttemptSchedule(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now, tries := start, 0
	for {
		tries++ // attempt at now, fails
		next, giveUp := NextAttempt(tries, now)
		if giveUp {
			break
		}
		if !next.After(now) {
			t.Fatalf("attempt %d: next %v is not after %v", tries, next, now)
		}
		now = next
		if tries > 100 {
			t.Fatal("NextAttempt never gives up")
		}
	}
	if tries != MaxAttempts {
		t.Errorf("tried %d times, want MaxAttempts = %d", tries, MaxAttempts)
	}
	if got, want := now.Sub(start), 2*time.Hour+21*time.Minute+40*time.Second; got != want {
		t.Errorf("last attempt at start+%v, want start+%v", got, want)
	}
}
