package reconciler

import (
	"sync"
	"time"
)

// queue is a work queue of site ids in the manner of controller-runtime:
// adding a key that is waiting is a no-op, a key is never handed to two
// workers at once, and a key added while it is being processed is handed out
// again after Done. Failed keys come back after a per-key exponential backoff.
type queue struct {
	mu         sync.Mutex // guards the fields below
	cond       *sync.Cond
	waiting    []string
	queued     map[string]bool // in waiting
	processing map[string]bool
	dirty      map[string]bool // added while processing
	failures   map[string]int
	timers     map[string]*time.Timer
	closed     bool
}

func newQueue() *queue {
	q := &queue{queued: map[string]bool{}, processing: map[string]bool{}, dirty: map[string]bool{},
		failures: map[string]int{}, timers: map[string]*time.Timer{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key for processing.
func (q *queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *queue) addLocked(key string) {
	if q.closed {
		return
	}
	if q.processing[key] {
		q.dirty[key] = true
		return
	}
	if q.queued[key] {
		return
	}
	q.queued[key] = true
	q.waiting = append(q.waiting, key)
	q.cond.Signal()
}

// Get blocks until a key is available or the queue is closed (ok false).
func (q *queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.waiting) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	key, q.waiting = q.waiting[0], q.waiting[1:]
	delete(q.queued, key)
	q.processing[key] = true
	return key, true
}

// Done ends processing of key. A nil err resets its backoff; otherwise the
// key is retried after a delay that doubles with each failure (1 s to 5 min).
func (q *queue) Done(key string, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if err == nil {
		delete(q.failures, key)
	} else {
		q.failures[key]++
		delay := time.Second << min(q.failures[key]-1, 9)
		delay = min(delay, 5*time.Minute)
		if t := q.timers[key]; t != nil {
			t.Stop()
		}
		q.timers[key] = time.AfterFunc(delay, func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			delete(q.timers, key)
			q.addLocked(key)
		})
	}
	if q.dirty[key] {
		delete(q.dirty, key)
		q.addLocked(key)
	}
}

// Close wakes all waiting workers and stops handing out keys.
func (q *queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for _, t := range q.timers {
		t.Stop()
	}
	q.cond.Broadcast()
}
