package agentapi

import (
	"errors"
	"fmt"
	"io"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// FetchRelease streams the bundle of a release to the node its site is
// placed on.
func (s agentService) FetchRelease(req *agentv1.FetchReleaseRequest, stream agentv1.AgentService_FetchReleaseServer) error {
	ctx := stream.Context()
	nodeID := auth.FromContext(ctx).NodeID
	id := req.GetReleaseId()
	if err := validate.ID("release_id", "rel", id); err != nil {
		return err
	}
	if s.blobs == nil {
		return errNoBlobs
	}
	var rel *store.Release
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		rel, err = tx.GetRelease(id)
		if errors.Is(err, store.ErrNotFound) {
			return rpc.NotFound("release", id)
		} else if err != nil {
			return err
		}
		site, err := tx.GetSite(rel.SiteID)
		if err != nil {
			return err
		}
		if site.NodeID == "" || site.NodeID != nodeID {
			return rpc.Deny(ctx, "release", id)
		}
		rpc.SetResource(ctx, id, site.ClientID)
		return nil
	})
	if err != nil {
		return err
	}
	rc, err := s.blobs.Open(rel.Digest)
	if err != nil {
		return fmt.Errorf("bundle of release %s: %w", id, err)
	}
	defer rc.Close()
	buf := make([]byte, chunkSize)
	for {
		n, err := io.ReadFull(rc, buf)
		if n > 0 {
			// Send marshals the message before it returns, so buf is free again.
			if err := stream.Send(&agentv1.FetchReleaseResponse{Chunk: buf[:n]}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read bundle of release %s: %w", id, err)
		}
	}
}
