package reconciler

import (
	"errors"
	"testing"
)

func TestQueueDedupAndDirty(t *testing.T) {
	q := newQueue()
	q.Add("a")
	q.Add("a")
	q.Add("b")
	k, _ := q.Get()
	if k != "a" {
		t.Fatalf("first key %q, want a", k)
	}
	q.Add("a") // while processing: comes back after Done
	k2, _ := q.Get()
	if k2 != "b" {
		t.Fatalf("second key %q, want b (a is being processed)", k2)
	}
	q.Done("b", nil)
	q.Done("a", nil)
	k3, _ := q.Get()
	if k3 != "a" {
		t.Fatalf("after Done, got %q, want a again", k3)
	}
	q.Done("a", errors.New("boom"))
	q.mu.Lock()
	failures, timer := q.failures["a"], q.timers["a"]
	q.mu.Unlock()
	if failures != 1 || timer == nil {
		t.Errorf("failed key: failures %d timer %v, want 1 and a retry timer", failures, timer)
	}
	q.Close()
	if _, ok := q.Get(); ok {
		t.Error("Get after Close returned a key")
	}
}
