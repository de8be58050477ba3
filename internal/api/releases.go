package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/bundle"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type releaseService struct {
	*API
	berthv1.UnimplementedReleaseServiceServer
}

const (
	// chunkSize is the size of the chunks FetchRelease sends.
	chunkSize = 1 << 20
	// maxConcurrentChecks bounds how many uploads are unpacked at once, each
	// up to the default bundle.Limits on disk.
	maxConcurrentChecks = 4
)

var errNoBlobs = status.Error(codes.FailedPrecondition, "this berthd has no release storage configured")

// releaseSite reads the static site that a release call names, in tx. A
// site the caller may not see is NotFound; forUpdate also refuses a site
// that is being deleted.
func (a *API) releaseSite(ctx context.Context, tx store.ReadTx, id string, forUpdate bool) (*store.Site, error) {
	site, err := tx.GetSite(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("site", id)
	} else if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).MayAccessClient(site.ClientID) {
		return nil, rpc.Deny(ctx, "site", id)
	}
	rpc.SetResource(ctx, id, site.ClientID)
	if site.Kind != store.SiteKindStatic {
		return nil, rpc.FailedPrecondition("site %q is a %s site; releases are for STATIC sites",
			id, strings.ToUpper(string(site.Kind)))
	}
	if forUpdate && site.State == store.SiteStateDeleting {
		return nil, rpc.FailedPrecondition("site %q is being deleted", id)
	}
	return site, nil
}

// siteRelease reads release relID of site siteID; a release of another
// site is NotFound.
func siteRelease(tx store.ReadTx, siteID, relID string) (*store.Release, error) {
	rel, err := tx.GetRelease(relID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rel.SiteID != siteID) {
		return nil, rpc.NotFound("release", relID)
	}
	return rel, err
}

func (s releaseService) CreateRelease(stream berthv1.ReleaseService_CreateReleaseServer) error {
	ctx := stream.Context()
	if s.blobs == nil {
		return errNoBlobs
	}
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "send a header naming the site first, then the bundle in chunks")
	} else if err != nil {
		return err
	}
	hdr := first.GetHeader()
	if hdr == nil {
		return status.Error(codes.InvalidArgument, "the first message must be the header naming the site; the bundle follows in chunks")
	}
	siteID := hdr.GetSiteId()
	if err := validate.ID("header.site_id", "site", siteID); err != nil {
		return err
	}
	// Check access before accepting any bytes.
	err = s.store.View(ctx, func(tx store.ReadTx) error {
		_, err := s.releaseSite(ctx, tx, siteID, true)
		return err
	})
	if err != nil {
		return err
	}

	digest, size, err := s.blobs.Write(&uploadReader{stream: stream})
	if err != nil {
		var st interface{ GRPCStatus() *status.Status }
		switch {
		case errors.Is(err, blobs.ErrTooLarge):
			return status.Errorf(codes.InvalidArgument, "the bundle is larger than %s (compressed), the most this berthd accepts: make the site smaller", sizeText(s.blobs.MaxBytes()))
		case errors.As(err, &st):
			return st.GRPCStatus().Err()
		}
		return err
	}
	rel, site, err := s.recordRelease(ctx, digest, size, siteID, !hdr.GetNoActivate())
	s.blobs.Unpin(digest)
	if err != nil {
		s.removeBlobIfUnused(digest)
		return err
	}
	s.log.Info("release created", "site_id", siteID, "release_id", rel.ID, "digest", digest, "size_bytes", size)
	return stream.SendAndClose(&berthv1.CreateReleaseResponse{Release: releaseToProto(rel), Site: siteToProto(site)})
}

// recordRelease checks the stored bundle and records it as a release of
// the site, which switches to it if activate is set.
func (s releaseService) recordRelease(ctx context.Context, digest string, size int64, siteID string, activate bool) (*store.Release, *store.Site, error) {
	if size == 0 {
		return nil, nil, status.Error(codes.InvalidArgument, "the bundle is empty: send a tar.gz of the site's files")
	}
	stats, err := s.checkBundle(ctx, digest)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	rel := &store.Release{
		ID: store.NewID("rel", now), SiteID: siteID, Digest: digest, SizeBytes: size,
		Files: stats.Files, UnpackedBytes: stats.Bytes,
		CreatedBy: auth.FromContext(ctx).Actor(), CreateTime: now,
	}
	var site *store.Site
	err = s.store.Update(ctx, func(tx store.Tx) (err error) {
		if site, err = s.releaseSite(ctx, tx, siteID, true); err != nil {
			return err
		}
		if err := tx.CreateRelease(rel); err != nil {
			return err
		}
		if activate {
			site.ReleaseID = rel.ID
			site.Generation++
			site.UpdateTime = now
			if err := tx.UpdateSite(site); err != nil {
				return err
			}
		}
		return s.auditInTx(ctx, tx, siteID, site.ClientID)
	})
	if err != nil {
		return nil, nil, err
	}
	return rel, site, nil
}

// checkBundle unpacks the stored bundle into a scratch directory with the
// same checks and limits as the node, counts what it holds, and removes it.
func (s releaseService) checkBundle(ctx context.Context, digest string) (bundle.Stats, error) {
	select {
	case s.checks <- struct{}{}:
		defer func() { <-s.checks }()
	case <-ctx.Done():
		return bundle.Stats{}, ctx.Err()
	}
	tmp, err := os.MkdirTemp(s.scratchDir, "release-check-*")
	if err != nil {
		return bundle.Stats{}, fmt.Errorf("check bundle: %w", err)
	}
	defer os.RemoveAll(tmp)
	rc, err := s.blobs.Open(digest)
	if err != nil {
		return bundle.Stats{}, err
	}
	defer rc.Close()
	// The default limits are the ones a node applies when it installs the
	// release; only the upload size is berthd's own setting.
	stats, err := bundle.Unpack(ctx, rc, filepath.Join(tmp, "release"), bundle.Limits{MaxCompressedBytes: s.blobs.MaxBytes()})
	if err != nil {
		return bundle.Stats{}, bundleError(err)
	}
	return stats, nil
}

// bundleError turns an Unpack error caused by the bundle itself into
// InvalidArgument with a message for the uploader; other failures (disk
// full) stay internal.
func bundleError(err error) error {
	var ae *bundle.ArchiveError
	switch {
	case !errors.As(err, &ae):
		return fmt.Errorf("check bundle: %w", err)
	case errors.Is(ae, bundle.ErrCorrupt):
		return rpc.InvalidArgument(err, "the bundle is not a complete gzip-compressed tar archive: "+ae.Message())
	default:
		return rpc.InvalidArgument(err, "bundle rejected: "+ae.Message())
	}
}

// removeBlobIfUnused removes a bundle that no release refers to and no
// upload has pinned. Failures are logged: a leftover blob wastes space but
// breaks nothing.
func (a *API) removeBlobIfUnused(digest string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gc := blobs.Collector{Blobs: a.blobs, Store: a.store}
	if _, err := gc.RemoveIfUnused(ctx, digest); err != nil {
		a.log.Error("remove unused release bundle", "digest", digest, "err", err)
	}
}

// uploadReader reads the chunks of a CreateRelease stream.
type uploadReader struct {
	stream berthv1.ReleaseService_CreateReleaseServer
	buf    []byte
}

func (r *uploadReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		msg, err := r.stream.Recv()
		if err != nil {
			return 0, err // io.EOF at the end of the upload
		}
		c, ok := msg.GetMsg().(*berthv1.CreateReleaseRequest_Chunk)
		if !ok {
			return 0, status.Error(codes.InvalidArgument, "only the first message may be a header; send the bundle as chunks")
		}
		r.buf = c.Chunk
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (s releaseService) ListReleases(ctx context.Context, req *berthv1.ListReleasesRequest) (*berthv1.ListReleasesResponse, error) {
	siteID := req.GetSiteId()
	if err := validate.ID("site_id", "site", siteID); err != nil {
		return nil, err
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "rel")
	if err != nil {
		return nil, err
	}
	var (
		site *store.Site
		list []*store.Release
	)
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		if site, err = s.releaseSite(ctx, tx, siteID, false); err != nil {
			return err
		}
		list, err = tx.ListReleases(siteID, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(r *store.Release) string { return r.ID })
	resp := &berthv1.ListReleasesResponse{NextPageToken: next, CurrentReleaseId: site.ReleaseID}
	for _, r := range list {
		resp.Releases = append(resp.Releases, releaseToProto(r))
	}
	return resp, nil
}

func (s releaseService) ActivateRelease(ctx context.Context, req *berthv1.ActivateReleaseRequest) (*berthv1.ActivateReleaseResponse, error) {
	siteID, relID := req.GetSiteId(), req.GetReleaseId()
	if err := validate.ID("site_id", "site", siteID); err != nil {
		return nil, err
	}
	if err := validate.ID("release_id", "rel", relID); err != nil {
		return nil, err
	}
	var site *store.Site
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		if site, err = s.releaseSite(ctx, tx, siteID, true); err != nil {
			return err
		}
		if _, err := siteRelease(tx, siteID, relID); err != nil {
			return err
		}
		if site.ReleaseID != relID {
			site.ReleaseID = relID
			site.Generation++
			site.UpdateTime = s.now()
			if err := tx.UpdateSite(site); err != nil {
				return err
			}
		}
		return s.auditInTx(ctx, tx, siteID, site.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.ActivateReleaseResponse{Site: siteToProto(site)}, nil
}

func (s releaseService) DeleteRelease(ctx context.Context, req *berthv1.DeleteReleaseRequest) (*berthv1.DeleteReleaseResponse, error) {
	siteID, relID := req.GetSiteId(), req.GetReleaseId()
	if err := validate.ID("site_id", "site", siteID); err != nil {
		return nil, err
	}
	if err := validate.ID("release_id", "rel", relID); err != nil {
		return nil, err
	}
	if s.blobs == nil {
		return nil, errNoBlobs
	}
	var rel *store.Release
	err := s.store.Update(ctx, func(tx store.Tx) error {
		site, err := s.releaseSite(ctx, tx, siteID, false)
		if err != nil {
			return err
		}
		if rel, err = siteRelease(tx, siteID, relID); err != nil {
			return err
		}
		if site.ReleaseID == relID {
			return rpc.FailedPrecondition("release %q is the one site %q serves: activate another release first (`berth site rollback %s`)",
				relID, siteID, siteID)
		}
		if err := tx.DeleteRelease(relID); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, siteID, site.ClientID)
	})
	if err != nil {
		return nil, err
	}
	s.removeBlobIfUnused(rel.Digest)
	return &berthv1.DeleteReleaseResponse{}, nil
}

// sizeText writes a limit in the largest binary unit that divides it.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func releaseToProto(r *store.Release) *berthv1.Release {
	return &berthv1.Release{
		Id: r.ID, SiteId: r.SiteID, Digest: r.Digest, SizeBytes: r.SizeBytes,
		Files: int32(r.Files), UnpackedBytes: r.UnpackedBytes,
		CreatedBy: r.CreatedBy, CreateTime: ts(r.CreateTime),
	}
}
