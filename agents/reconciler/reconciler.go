package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/agents/terminal"
	"github.com/fixaroo/berth/internal/shared/seal"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// Labels on everything the reconciler creates.
const (
	LabelManaged = "berth.managed"
	LabelSite    = "berth.site"
	LabelKind    = "berth.kind"
	// LabelNode names the node whose agent owns the object, so that agents
	// sharing one engine (tests, demos) never take each other's sites for
	// orphans.
	LabelNode = "berth.node"
)

// Images names the image of each kind of container.
type Images struct {
	Static, WordPress, MariaDB string
}

// DefaultImages are the images `make images` builds.
var DefaultImages = Images{Static: "berth/static:dev", WordPress: "berth/wordpress:dev", MariaDB: "berth/mariadb:dev"}

// Options configures a Reconciler. Runtime, DataDir, Box, Report and Fetch
// are required.
type Options struct {
	Runtime *docker.Runtime
	// NodeID is the node's id, put on every object as LabelNode and in the
	// names of the node's MariaDB. Ids are [a-z0-9_]; without one (tests of
	// static sites) WordPress sites fail, since the node's MariaDB could not
	// be told from another node's on the same engine.
	NodeID string
	// Labels are put on every object the reconciler creates, under the
	// berth.* labels above, which always win; tests mark theirs with them.
	// Keys follow the rule of Docker names and may not be one of the label
	// keys above.
	Labels map[string]string
	// DataDir is the agent's data directory; site files live under DataDir/sites.
	DataDir string
	// Box encrypts secrets the node keeps (the MariaDB root password).
	Box *seal.Box
	// Images are the images to run (default DefaultImages).
	Images Images
	// Fetch opens the bundle of a static release from the control plane.
	Fetch func(ctx context.Context, releaseID string) (io.ReadCloser, error)
	// Report receives a site's status after each reconcile.
	Report func(*agentv1.SiteStatus)
	Logger *slog.Logger
	// Workers is the number of sites reconciled at once (default 2).
	Workers int
	// Resync is the period of a full pass (default 30 s).
	Resync time.Duration
	// HTTPClient checks that sites answer (default: 5 s timeout, no redirects).
	HTTPClient *http.Client
	// Upstream, if set, is called when the address a site is served from
	// changes: after a reconcile finds it answering at a new address, and
	// with an invalid AddrPort once the site is removed. Calls for one site
	// come in order; they must not block. Reconciler.Upstream reads the
	// address later: the reconciler is the one record of it.
	Upstream func(siteID string, addr netip.AddrPort)
	// HTTPSPort is the edge's public HTTPS port, used in the addresses
	// WordPress is installed with (default 443).
	HTTPSPort int
}

// Reconciler converges the engine towards the desired state. Safe for
// concurrent use.
type Reconciler struct {
	o     Options
	log   *slog.Logger
	queue *queue
	http  *http.Client

	mu       sync.Mutex // guards the fields below
	desired  map[string]*agentv1.SiteAssignment
	status   map[string]*agentv1.SiteStatus
	received bool // a desired state has been applied at least once
	upstream map[string]netip.AddrPort

	mariaMu sync.Mutex // serialises work on the shared MariaDB container

	namesMu sync.Mutex // guards maria
	maria   *mariaDB   // the names of the node's MariaDB, once known
}

// New returns a Reconciler.
func New(o Options) *Reconciler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Images == (Images{}) {
		o.Images = DefaultImages
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Resync <= 0 {
		o.Resync = 30 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Reconciler{o: o, log: o.Logger, queue: newQueue(), http: o.HTTPClient,
		desired: map[string]*agentv1.SiteAssignment{}, status: map[string]*agentv1.SiteStatus{}, upstream: map[string]netip.AddrPort{}}
}

// Apply replaces the desired state and queues every site it names and every
// site it no longer names.
func (r *Reconciler) Apply(_ context.Context, ds *agentv1.DesiredState) {
	next := map[string]*agentv1.SiteAssignment{}
	for _, s := range ds.GetSites() {
		next[s.GetSiteId()] = proto.Clone(s).(*agentv1.SiteAssignment)
	}
	r.mu.Lock()
	prev := r.desired
	r.desired, r.received = next, true
	r.mu.Unlock()
	for id := range next {
		r.queue.Add(id)
	}
	for id := range prev {
		if next[id] == nil {
			r.queue.Add(id)
		}
	}
}

// Statuses returns the last status of every desired site.
func (r *Reconciler) Statuses() []*agentv1.SiteStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*agentv1.SiteStatus
	for _, id := range slices.Sorted(maps.Keys(r.status)) {
		out = append(out, proto.Clone(r.status[id]).(*agentv1.SiteStatus))
	}
	return out
}

// Upstream returns where a site's container answers, as the last
// reconcile found it; invalid if the site answers nowhere (yet).
func (r *Reconciler) Upstream(siteID string) netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.upstream[siteID]
}

// Run reconciles until ctx ends. It fails at once if the options are
// invalid.
func (r *Reconciler) Run(ctx context.Context) error {
	if err := r.o.validate(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id, ok := r.queue.Get()
				if !ok {
					return
				}
				err := r.reconcile(ctx, id)
				if err != nil && ctx.Err() == nil {
					r.log.Warn("reconcile", "site_id", id, "err", err)
				}
				r.queue.Done(id, err)
			}
		}()
	}
	t := time.NewTicker(r.o.Resync)
	defer t.Stop()
	for {
		r.resync(ctx)
		select {
		case <-ctx.Done():
			r.queue.Close()
			wg.Wait()
			return nil
		case <-t.C:
		}
	}
}

// resync queues every desired site and every berth-managed site the engine
// has, so that orphans are found and drift (a container removed by hand) is
// repaired.
func (r *Reconciler) resync(ctx context.Context) {
	r.mu.Lock()
	ids := slices.Collect(maps.Keys(r.desired))
	received := r.received
	r.mu.Unlock()
	for _, id := range ids {
		r.queue.Add(id)
	}
	if !received {
		return // without a desired state every site would look like an orphan
	}
	cs, err := r.o.Runtime.ListContainers(ctx, map[string]string{LabelManaged: "true", LabelNode: r.o.NodeID})
	if err != nil {
		r.log.Warn("list containers", "err", err)
		return
	}
	for _, c := range cs {
		if id := c.Labels[LabelSite]; id != "" {
			r.queue.Add(id)
		}
	}
}

func (r *Reconciler) reconcile(ctx context.Context, siteID string) error {
	r.mu.Lock()
	want := r.desired[siteID]
	received := r.received
	r.mu.Unlock()
	if !received {
		return nil
	}
	if want == nil || want.GetDeleting() {
		err := r.remove(ctx, siteID, want)
		if err == nil {
			r.serving(siteID, netip.AddrPort{})
			r.mu.Lock()
			delete(r.status, siteID)
			r.mu.Unlock()
			if want != nil {
				r.report(&agentv1.SiteStatus{SiteId: siteID, ObservedGeneration: want.GetGeneration(), State: agentv1.SiteState_SITE_STATE_DELETING, Removed: true})
			}
		}
		return err
	}
	var st *agentv1.SiteStatus
	var err error
	switch want.GetKind() {
	case agentv1.SiteKind_SITE_KIND_STATIC:
		st, err = r.reconcileStatic(ctx, want)
	case agentv1.SiteKind_SITE_KIND_WORDPRESS:
		st, err = r.reconcileWordPress(ctx, want)
	default:
		err = terminal.Errorf("unknown site kind %v", want.GetKind())
	}
	if err != nil {
		st = failedStatus(want, err)
	}
	r.report(st)
	if terminal.Is(err) {
		return nil // retrying cannot help; the next spec change or resync will
	}
	return err
}

// serving records that a site answers at addr (invalid: nowhere) and tells
// Options.Upstream when that changed.
func (r *Reconciler) serving(siteID string, addr netip.AddrPort) {
	r.mu.Lock()
	prev, known := r.upstream[siteID]
	if addr.IsValid() {
		r.upstream[siteID] = addr
	} else {
		delete(r.upstream, siteID)
	}
	r.mu.Unlock()
	if prev == addr && (known || !addr.IsValid()) {
		return
	}
	if r.o.Upstream != nil {
		r.o.Upstream(siteID, addr)
	}
}

// siteURL is the address WordPress knows itself by.
func (r *Reconciler) siteURL(domain string) string {
	if r.o.HTTPSPort == 0 || r.o.HTTPSPort == 443 {
		return "https://" + domain
	}
	return "https://" + net.JoinHostPort(domain, strconv.Itoa(r.o.HTTPSPort))
}

func (r *Reconciler) report(st *agentv1.SiteStatus) {
	st.ObserveTime = timestamppb.Now()
	r.mu.Lock()
	prev := r.status[st.GetSiteId()]
	if !st.GetRemoved() {
		r.status[st.GetSiteId()] = st
	}
	r.mu.Unlock()
	if prev != nil && sameStatus(prev, st) {
		return
	}
	if r.o.Report != nil {
		r.o.Report(st)
	}
}

// sameStatus compares statuses ignoring times.
func sameStatus(a, b *agentv1.SiteStatus) bool {
	if a.GetState() != b.GetState() || a.GetObservedGeneration() != b.GetObservedGeneration() ||
		a.GetReleaseId() != b.GetReleaseId() || len(a.GetConditions()) != len(b.GetConditions()) {
		return false
	}
	for i, c := range a.GetConditions() {
		d := b.GetConditions()[i]
		if c.GetType() != d.GetType() || c.GetStatus() != d.GetStatus() || c.GetReason() != d.GetReason() || c.GetMessage() != d.GetMessage() {
			return false
		}
	}
	return true
}

func failedStatus(want *agentv1.SiteAssignment, err error) *agentv1.SiteStatus {
	reason, state := "Retrying", agentv1.SiteState_SITE_STATE_PROVISIONING
	if terminal.Is(err) {
		reason, state = "Failed", agentv1.SiteState_SITE_STATE_FAILED
	}
	return &agentv1.SiteStatus{SiteId: want.GetSiteId(), ObservedGeneration: want.GetGeneration(), State: state,
		Conditions: []*agentv1.Condition{cond("Ready", "False", reason, err.Error())}}
}

func cond(typ, status, reason, msg string) *agentv1.Condition {
	return &agentv1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: timestamppb.Now()}
}

func containerName(siteID string) string { return "berth-" + siteID }
func networkName(siteID string) string   { return "berth-" + siteID }
func volumeName(siteID string) string    { return "berth-" + siteID + "-wp-content" }

func (r *Reconciler) siteDir(siteID string) string {
	return filepath.Join(r.o.DataDir, "sites", siteID)
}

// labels are the labels of an object of a site (siteID "": of the node).
func (r *Reconciler) labels(siteID, kind string) map[string]string {
	l := make(map[string]string, len(r.o.Labels)+4)
	maps.Copy(l, r.o.Labels)
	l[LabelManaged], l[LabelKind], l[LabelNode] = "true", kind, r.o.NodeID
	if siteID != "" {
		l[LabelSite] = siteID
	}
	return l
}

var (
	nodeIDRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)
	labelKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,127}$`) // agents/runtime/docker's rule for names
)

// validate checks what New cannot refuse: the node id and the extra labels.
func (o Options) validate() error {
	if o.NodeID != "" && !nodeIDRE.MatchString(o.NodeID) {
		return fmt.Errorf("reconciler: node id %q: must be 1-64 characters of a-z, 0-9 and '_'", o.NodeID)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
		switch {
		case !labelKeyRE.MatchString(k):
			return fmt.Errorf("reconciler: label key %q: must be 1-128 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit", k)
		case k == LabelManaged || k == LabelSite || k == LabelKind || k == LabelNode || k == "berth.spec-hash":
			return fmt.Errorf("reconciler: label %s is set by Berth itself; choose another key", k)
		case !utf8.ValidString(o.Labels[k]) || strings.IndexFunc(o.Labels[k], unicode.IsControl) >= 0:
			return fmt.Errorf("reconciler: label %s: the value must be UTF-8 text without control characters", k)
		}
	}
	return nil
}

// remove deletes everything of a site from the node. want is the deleting
// assignment, or nil for an orphan (then the kind comes from the labels).
func (r *Reconciler) remove(ctx context.Context, siteID string, want *agentv1.SiteAssignment) error {
	c, err := r.o.Runtime.InspectContainer(ctx, containerName(siteID))
	if err != nil && !errors.Is(err, docker.ErrNotFound) {
		return err
	}
	wordpress := want.GetKind() == agentv1.SiteKind_SITE_KIND_WORDPRESS || c.Labels[LabelKind] == "wordpress"
	if err := r.o.Runtime.RemoveContainer(ctx, containerName(siteID)); err != nil {
		return err
	}
	if wordpress {
		if err := r.dropDatabase(ctx, siteID); err != nil {
			return err
		}
		if err := r.o.Runtime.RemoveVolume(ctx, volumeName(siteID)); err != nil {
			return err
		}
	}
	// RemoveNetwork also takes the shared MariaDB off the site's network.
	if err := r.o.Runtime.RemoveNetwork(ctx, networkName(siteID)); err != nil {
		return err
	}
	if err := os.RemoveAll(r.siteDir(siteID)); err != nil {
		return fmt.Errorf("remove site files: %w", err)
	}
	r.log.Info("site removed", "site_id", siteID)
	return nil
}

// containerIP is the address of a site's container on its network.
func containerIP(c docker.Container, network string) (netip.Addr, error) {
	ip, ok := c.IPs[network]
	if !ok || !ip.IsValid() {
		return netip.Addr{}, fmt.Errorf("container %s has no address on %s yet", c.Name, network)
	}
	return ip, nil
}

// probe GETs the site from the host through its container address with the
// site's Host header and returns the status code and up to 1 MiB of body.
func (r *Reconciler) probe(ctx context.Context, ip netip.Addr, port int, host string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+netip.AddrPortFrom(ip, uint16(port)).String()+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), nil
}

// running reports the state of a container as a condition.
func runningCondition(c docker.Container) *agentv1.Condition {
	if c.State == "running" {
		return cond("ContainerRunning", "True", "Running", fmt.Sprintf("container %s running since %s", c.Name, c.StartedAt.Format(time.RFC3339)))
	}
	return cond("ContainerRunning", "False", strings.ToUpper(c.State[:1])+c.State[1:], fmt.Sprintf("container %s is %s (exit code %d)", c.Name, c.State, c.ExitCode))
}
