package docker

import (
	"context"
	"fmt"
	"slices"

	"github.com/moby/moby/client"
)

// EnsureVolume creates the local named volume if it does not exist. Labels
// are set at creation only; an existing volume keeps its labels.
func (r *Runtime) EnsureVolume(ctx context.Context, name string, labels map[string]string) error {
	if err := validateName("volume", name); err != nil {
		return err
	}
	if err := validateLabels(labels); err != nil {
		return err
	}
	cctx, cancel := r.call(ctx)
	_, err := r.cli.VolumeInspect(cctx, name, client.VolumeInspectOptions{})
	cancel()
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("inspect volume %s: %w", name, err)
	}
	// Creating an existing volume is a no-op in the engine, so a concurrent
	// creator is harmless.
	cctx, cancel = r.call(ctx)
	defer cancel()
	if _, err := r.cli.VolumeCreate(cctx, client.VolumeCreateOptions{Name: name, Driver: "local", Labels: labels}); err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	r.log.Info("volume created", "volume", name)
	return nil
}

// RemoveVolume removes the named volume and its data. A volume that does not
// exist is success; one still used by a container is a retryable error.
func (r *Runtime) RemoveVolume(ctx context.Context, name string) error {
	if err := validateName("volume", name); err != nil {
		return err
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	_, err := r.cli.VolumeRemove(cctx, name, client.VolumeRemoveOptions{})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err == nil {
		r.log.Info("volume removed", "volume", name)
	}
	return nil
}

// ListVolumes returns the names of the volumes carrying all the given labels,
// sorted.
func (r *Runtime) ListVolumes(ctx context.Context, labels map[string]string) ([]string, error) {
	if err := validateLabels(labels); err != nil {
		return nil, err
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	res, err := r.cli.VolumeList(cctx, client.VolumeListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	names := make([]string, 0, len(res.Items))
	for _, v := range res.Items {
		names = append(names, v.Name)
	}
	slices.Sort(names)
	return names, nil
}
