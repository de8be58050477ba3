package prober

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/shared/probe"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

const (
	// DefaultMaxBuffered is the default bound of the buffer, in results.
	DefaultMaxBuffered = 100_000
	// DefaultMinInterval is the shortest interval between two probes of
	// one site in production.
	DefaultMinInterval = 10 * time.Second
	// maxDefaultTimeout caps the timeout of an assignment that sets none.
	maxDefaultTimeout = 10 * time.Second
	// batchWindow is the shortest time between two writes of the buffer:
	// results that finish within it share one write and one fsync.
	batchWindow = 200 * time.Millisecond
	// retryWrite is how long the writer waits after a failed write.
	retryWrite = 5 * time.Second
)

// Options configure a Scheduler. Zero values mean the defaults stated.
type Options struct {
	// DataDir is the agent's data directory; the buffer lives in
	// DataDir/probes. Required.
	DataDir string
	// Prober makes the probes. Required.
	Prober *probe.Prober
	// MaxBuffered bounds the results kept until berthd acknowledges them
	// (default DefaultMaxBuffered). When it is full the oldest are dropped
	// and counted in berth_agent_probe_buffer_dropped_total.
	MaxBuffered int
	// MinInterval is the shortest interval between two probes of a site,
	// whatever an assignment asks (default DefaultMinInterval). Tests lower
	// it; an assignment with interval_seconds 0 runs at MinInterval.
	MinInterval time.Duration
	// Registerer receives the prober's metrics (default: none).
	Registerer prometheus.Registerer
	// Logger (default: discard).
	Logger *slog.Logger
	// Now, if set, stamps the results instead of the Prober's clock.
	Now func() time.Time
}

// Scheduler probes the sites assigned to the node, each at its interval,
// and keeps the results in a durable buffer until berthd acknowledges them.
// Its methods are safe for concurrent use.
type Scheduler struct {
	o      Options
	prober *probe.Prober
	log    *slog.Logger
	m      *metrics
	buf    *buffer
	ready  chan struct{} // cap 1: results became visible to Pending
	wake   chan struct{} // cap 1: results wait to be written

	mu          sync.Mutex                          // guards the fields below
	assignments map[string]*agentv1.ProbeAssignment // by site id
	workers     map[string]*worker                  // by site id; only while running
	certDomains map[string]bool                     // domains with a certificate series
	runCtx      context.Context                     // nil unless Run is running
	running     bool
	wg          sync.WaitGroup // the workers
}

// worker probes one assignment until its context ends.
type worker struct {
	a      *agentv1.ProbeAssignment
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Scheduler with the results buffered in DataDir/probes, as
// a previous run left them; Run starts probing.
func New(o Options) (*Scheduler, error) {
	if o.DataDir == "" {
		return nil, errors.New("prober: Options.DataDir is required")
	}
	if o.Prober == nil {
		return nil, errors.New("prober: Options.Prober is required")
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = DefaultMaxBuffered
	}
	if o.MinInterval <= 0 {
		o.MinInterval = DefaultMinInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger.With("component", "prober")
	p := *o.Prober
	if o.Now != nil {
		p.Now = o.Now
	}
	buf, dropped, err := openBuffer(filepath.Join(o.DataDir, "probes"), o.MaxBuffered, log)
	if err != nil {
		return nil, fmt.Errorf("prober: %w", err)
	}
	m, err := newMetrics(o.Registerer, func() float64 { return float64(buf.len()) })
	if err != nil {
		buf.close()
		return nil, err
	}
	m.dropped.Add(float64(dropped))
	s := &Scheduler{
		o:           o,
		prober:      &p,
		log:         log,
		m:           m,
		buf:         buf,
		ready:       make(chan struct{}, 1),
		wake:        make(chan struct{}, 1),
		assignments: map[string]*agentv1.ProbeAssignment{},
		workers:     map[string]*worker{},
		certDomains: map[string]bool{},
	}
	if n := buf.len(); n > 0 {
		log.Info("probe results waiting for berthd", "results", n, "dropped", dropped)
		signal(s.ready)
	}
	return s, nil
}

// SetAssignments replaces the node's probes. New ones start at a random
// offset within their interval, so that probes spread over it; removed ones
// stop (a probe in flight is cancelled and its result discarded); changed
// ones restart at once with their new settings and a new offset.
// Assignments without a site id, domain or target are ignored; of two for
// one site, the later wins. as is not retained.
func (s *Scheduler) SetAssignments(as []*agentv1.ProbeAssignment) {
	next := make(map[string]*agentv1.ProbeAssignment, len(as))
	invalid := 0
	for _, a := range as {
		if a.GetSiteId() == "" || a.GetDomain() == "" || a.GetTarget() == "" {
			invalid++
			continue
		}
		next[a.GetSiteId()] = proto.CloneOf(a)
	}
	if invalid > 0 {
		s.log.Warn("probe assignments without a site id, domain or target ignored", "count", invalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assignments = next
	if s.runCtx != nil {
		s.syncWorkersLocked()
	}
	domains := make(map[string]bool, len(next))
	for _, a := range next {
		domains[a.GetDomain()] = true
	}
	for d := range s.certDomains {
		if !domains[d] {
			s.m.certNotAfter.DeleteLabelValues(d)
			delete(s.certDomains, d)
		}
	}
}

// syncWorkersLocked stops the workers of removed and changed assignments
// and starts those of new and changed ones.
func (s *Scheduler) syncWorkersLocked() {
	for id, w := range s.workers {
		if a, ok := s.assignments[id]; !ok || !proto.Equal(a, w.a) {
			w.cancel()
			delete(s.workers, id)
		}
	}
	for id, a := range s.assignments {
		if _, ok := s.workers[id]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(s.runCtx)
		w := &worker{a: a, ctx: ctx, cancel: cancel}
		s.workers[id] = w
		s.wg.Add(1)
		go s.runWorker(w)
	}
}

// Run probes the assigned sites and writes their results to disk until ctx
// ends; it then stops the probes, writes what is left and returns. It
// returns nil after a shutdown by ctx, or the error of that last write.
// Run may be called again after it returned, but not twice at once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("prober: Run is already running")
	}
	runCtx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	s.running, s.runCtx = true, runCtx
	s.syncWorkersLocked()
	s.mu.Unlock()
	s.log.Info("prober started")

	var (
		lastWrite time.Time
		retry     <-chan time.Time
	)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-s.wake:
		case <-retry:
		}
		// Let the results that finish meanwhile join this write.
		if wait := batchWindow - time.Since(lastWrite); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		lastWrite = time.Now()
		retry = nil
		if err := s.persist(); err != nil {
			s.log.Error("write probe results", "err", err)
			retry = time.After(retryWrite)
		}
	}

	s.mu.Lock()
	stopWorkers()
	clear(s.workers)
	s.runCtx = nil
	s.mu.Unlock()
	s.wg.Wait()
	err := s.persist()
	if cerr := s.buf.close(); err == nil {
		err = cerr
	}
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
	s.log.Info("prober stopped")
	if err != nil {
		return fmt.Errorf("prober: write probe results: %w", err)
	}
	return nil
}

// persist writes the buffered results, and compacts the file when it
// holds mostly acknowledged ones.
func (s *Scheduler) persist() error {
	visible, err := s.buf.flush()
	if visible {
		signal(s.ready)
	}
	if err != nil || !s.buf.needsCompaction() {
		return err
	}
	visible, err = s.buf.compact()
	if visible {
		signal(s.ready)
	}
	return err
}

// interval returns how often an assignment runs.
func (s *Scheduler) interval(a *agentv1.ProbeAssignment) time.Duration {
	return max(time.Duration(a.GetIntervalSeconds())*time.Second, s.o.MinInterval)
}

// timeout returns an assignment's timeout; by default, as berthd sets it,
// 80% of the interval and at most 10 s.
func timeout(a *agentv1.ProbeAssignment, interval time.Duration) time.Duration {
	if a.GetTimeoutMs() > 0 {
		return time.Duration(a.GetTimeoutMs()) * time.Millisecond
	}
	return min(interval*8/10, maxDefaultTimeout)
}

// runWorker probes w's site every interval, from a random offset on. A
// probe never overlaps the next: if one outlasts the interval, the probes
// it overran are skipped.
func (s *Scheduler) runWorker(w *worker) {
	defer s.wg.Done()
	a := w.a
	interval := s.interval(a)
	target := probe.Target{
		SiteID:         a.GetSiteId(),
		Domain:         a.GetDomain(),
		Address:        a.GetTarget(),
		Timeout:        timeout(a, interval),
		ExpectedStatus: int(a.GetExpectedStatus()),
		Keyword:        a.GetKeyword(),
	}
	first := time.NewTimer(rand.N(interval))
	defer first.Stop()
	select {
	case <-w.ctx.Done():
		return
	case <-first.C:
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		s.record(w, s.prober.Probe(w.ctx, target))
		select {
		case <-w.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// record counts a result and buffers it, unless its worker was stopped
// meanwhile (its result may be a cancellation, and its domain's series may
// have been removed).
func (s *Scheduler) record(w *worker, r probe.Result) {
	s.mu.Lock()
	if w.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.m.duration.Observe(r.Total.Seconds())
	s.m.results.WithLabelValues(outcome(r)).Inc()
	if !r.CertNotAfter.IsZero() {
		d := w.a.GetDomain()
		s.m.certNotAfter.WithLabelValues(d).Set(float64(r.CertNotAfter.Unix()))
		s.certDomains[d] = true
	}
	s.mu.Unlock()

	dropped, err := s.buf.add(toProto(r))
	if err != nil {
		s.log.Error("buffer probe result", "site_id", r.SiteID, "err", err)
		return
	}
	if dropped > 0 {
		s.m.dropped.Add(float64(dropped))
	}
	signal(s.wake)
}

// Pending returns up to max of the buffered results that berthd has not
// acknowledged, oldest first, each with its seq. Only results already on
// disk are returned. Pending does not mark them as sent: until Ack, every
// call returns them again, so a session sends the ones beyond the last
// seq it sent, and starts over from the oldest after a reconnect.
func (s *Scheduler) Pending(max int) []*agentv1.ProbeResult {
	if max <= 0 {
		return nil
	}
	return s.buf.pending(max)
}

// Ack drops every buffered result with a seq up to seq, berthd having
// stored them, and persists that before it returns (a failure is logged;
// the results are then sent again, and berthd keeps each seq once).
func (s *Scheduler) Ack(seq uint64) {
	if !s.buf.ack(seq) {
		return
	}
	visible, err := s.buf.flush()
	if visible {
		signal(s.ready)
	}
	if err != nil {
		s.log.Error("record acknowledged probe results", "seq", seq, "err", err)
	}
	signal(s.wake) // the writer compacts the file if it is mostly acknowledged results now
}

// Ready returns a channel that receives a value when results became
// visible to Pending; it holds at most one, so a slow reader misses none
// but may find several batches behind one value. After New, it holds one
// if results were left from a previous run.
func (s *Scheduler) Ready() <-chan struct{} { return s.ready }

// signal sends on a channel of capacity 1 without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func toProto(r probe.Result) *agentv1.ProbeResult {
	pr := &agentv1.ProbeResult{
		SiteId:      r.SiteID,
		Time:        timestamppb.New(r.Time),
		Ok:          r.OK,
		StatusCode:  int32(r.StatusCode),
		TotalMs:     ms(r.Total),
		ConnectMs:   ms(r.Connect),
		TlsMs:       ms(r.TLS),
		FirstByteMs: ms(r.FirstByte),
		ErrorClass:  r.ErrorClass,
		Error:       r.Error,
	}
	if !r.CertNotAfter.IsZero() {
		pr.CertNotAfter = timestamppb.New(r.CertNotAfter)
	}
	return pr
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
