package reconciler

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fixaroo/berth/agents/release"
	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/internal/shared/bundle"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// staticPort is where berth-static listens in its container.
const staticPort = 8080

// releasesKept is how many releases a site keeps on the node for rollback.
const releasesKept = 5

func (r *Reconciler) reconcileStatic(ctx context.Context, want *agentv1.SiteAssignment) (*agentv1.SiteStatus, error) {
	id := want.GetSiteId()
	root := filepath.Join(r.siteDir(id), "root")
	dir := release.Dir{Root: root}
	if err := ensureDir(root); err != nil {
		return nil, err
	}
	released := cond("Released", "False", "NoRelease", "no release deployed yet: deploy one with `berth site deploy "+id+" ./public`")
	if rel := want.GetReleaseId(); rel != "" {
		if err := r.installRelease(ctx, dir, rel); err != nil {
			return nil, err
		}
		released = cond("Released", "True", "Active", "serving release "+rel)
	}
	if _, err := r.o.Runtime.EnsureNetwork(ctx, networkName(id), r.labels(id, "static")); err != nil {
		return nil, err
	}
	c, err := r.o.Runtime.EnsureContainer(ctx, docker.ContainerSpec{
		Name:           containerName(id),
		Image:          r.o.Images.Static,
		Cmd:            []string{"--root", "/srv", "--listen", fmt.Sprintf(":%d", staticPort)},
		User:           "65534:65534",
		Labels:         r.labels(id, "static"),
		Network:        networkName(id),
		MemoryMiB:      int64(want.GetResources().GetMemoryMib()),
		CPUMillicores:  int64(want.GetResources().GetCpuMillicores()),
		ReadOnlyRootfs: true,
		Mounts:         []docker.Mount{{Type: "bind", Source: root, Target: "/srv", ReadOnly: true}},
		ExposedPort:    staticPort,
	})
	if err != nil {
		return nil, err
	}
	st := &agentv1.SiteStatus{SiteId: id, ObservedGeneration: want.GetGeneration(), ReleaseId: want.GetReleaseId(),
		State: agentv1.SiteState_SITE_STATE_PROVISIONING, Conditions: []*agentv1.Condition{runningCondition(c), released}}
	ip, err := containerIP(c, networkName(id))
	if err != nil {
		return nil, err
	}
	// A new container takes a moment to listen: ask again briefly before
	// handing the site back to the queue's backoff.
	var code int
	for try := 0; ; try++ {
		code, _, err = r.probe(ctx, ip, staticPort, want.GetDomains()[0])
		if err == nil || try == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("site does not answer yet: %w", err)
	case code >= 500 && want.GetReleaseId() != "":
		return nil, fmt.Errorf("site answers %d", code)
	}
	st.State = agentv1.SiteState_SITE_STATE_RUNNING
	st.Conditions = append(st.Conditions, cond("Ready", "True", "Serving", fmt.Sprintf("answers HTTP %d", code)))
	r.serving(id, netip.AddrPortFrom(ip, staticPort))
	return st, nil
}

// installRelease makes rel the site's current release, fetching it from the
// control plane if the node does not have it, and prunes old releases.
func (r *Reconciler) installRelease(ctx context.Context, dir release.Dir, rel string) error {
	cur, err := dir.Current()
	if err != nil {
		return err
	}
	if cur == rel {
		return nil
	}
	have, err := dir.List()
	if err != nil {
		return err
	}
	if !slices.Contains(have, rel) {
		body, err := r.o.Fetch(ctx, rel)
		if err != nil {
			return fmt.Errorf("fetch release %s: %w", rel, err)
		}
		err = dir.Install(ctx, rel, body, bundle.Limits{})
		body.Close()
		if err != nil {
			return fmt.Errorf("install release %s: %w", rel, err)
		}
	}
	if err := dir.Activate(rel); err != nil {
		return err
	}
	r.log.Info("release activated", "release_id", rel, "root", dir.Root)
	return dir.Prune(releasesKept)
}

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create site directory: %w", err)
	}
	return nil
}
