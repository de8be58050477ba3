package api_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// tarGz returns a gzip-compressed tar archive of regular files (name →
// content), in name order.
func tarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var hdrs []*tar.Header
	var bodies []string
	for _, n := range names {
		hdrs = append(hdrs, &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(1700000000, 0)})
		bodies = append(bodies, files[n])
	}
	return rawTarGz(t, hdrs, bodies)
}

// rawTarGz writes the given headers with their contents, unchecked.
func rawTarGz(t testing.TB, hdrs []*tar.Header, bodies []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, bodies[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// release stores bundle and records it as a release of siteID, as an upload
// would, without activating it.
func (s *server) release(t *testing.T, siteID string, bundle []byte) *store.Release {
	t.Helper()
	digest, size, err := s.blobs.Write(bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	defer s.blobs.Unpin(digest)
	now := time.Now().UTC()
	rel := &store.Release{ID: store.NewID("rel", now), SiteID: siteID, Digest: digest, SizeBytes: size, Files: 1, UnpackedBytes: 10, CreatedBy: "test", CreateTime: now}
	s.update(t, func(tx store.Tx) error { return tx.CreateRelease(rel) })
	return rel
}

// upload sends bundle as a new release of siteID in 64 KiB chunks.
func upload(ctx context.Context, conn *grpc.ClientConn, siteID string, noActivate bool, bundle []byte) (*berthv1.CreateReleaseResponse, error) {
	stream, err := berthv1.NewReleaseServiceClient(conn).CreateRelease(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []*berthv1.CreateReleaseRequest{{Msg: &berthv1.CreateReleaseRequest_Header{Header: &berthv1.ReleaseUploadHeader{SiteId: siteID, NoActivate: noActivate}}}}
	for c := range slices.Chunk(bundle, 64<<10) {
		msgs = append(msgs, &berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Chunk{Chunk: c}})
	}
	for _, m := range msgs {
		if err := stream.Send(m); errors.Is(err, io.EOF) {
			break // the server ended the call: CloseAndRecv says why
		} else if err != nil {
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

// blobFiles lists the files in the server's blob directory, temporary ones included.
func (s *server) blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func listReleases(t *testing.T, ctx context.Context, s *server, siteID string) *berthv1.ListReleasesResponse {
	t.Helper()
	resp, err := berthv1.NewReleaseServiceClient(s.conn).ListReleases(ctx, &berthv1.ListReleasesRequest{SiteId: siteID})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func releaseIDs(rels []*berthv1.Release) []string {
	var ids []string
	for _, r := range rels {
		ids = append(ids, r.Id)
	}
	return ids
}

// TestReleaseLifecycle deploys, lists, activates, rolls back and deletes
// releases of client B's static site as client B (and admin where only
// admins may).
func TestReleaseLifecycle(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctxB, ctxAdmin := as(t, f.tokens[clientB]), as(t, f.tokens[admin])
	rs := berthv1.NewReleaseServiceClient(s.conn)
	siteID := f.b.siteID

	bundle1 := tarGz(t, map[string]string{"index.html": "<h1>one</h1>", "css/site.css": "body{}"})
	r1, err := upload(ctxB, s.conn, siteID, false, bundle1)
	if err != nil {
		t.Fatal(err)
	}
	rel1 := r1.Release
	if rel1.SiteId != siteID || rel1.Digest != digestOf(bundle1) || rel1.SizeBytes != int64(len(bundle1)) ||
		rel1.Files != 3 || rel1.UnpackedBytes != int64(len("<h1>one</h1>")+len("body{}")) ||
		!strings.Contains(rel1.CreatedBy, f.b.email) || rel1.CreateTime == nil {
		t.Errorf("first release = %v", rel1)
	}
	if r1.Site.ReleaseId != rel1.Id || r1.Site.Generation != 2 {
		t.Errorf("site after upload: release %q generation %d, want %q and 2", r1.Site.ReleaseId, r1.Site.Generation, rel1.Id)
	}
	if ok, _ := s.blobs.Exists(rel1.Digest); !ok {
		t.Error("the bundle is not in the blob store")
	}

	// A second upload without activation leaves the site as it is.
	bundle2 := tarGz(t, map[string]string{"index.html": "<h1>two</h1>"})
	r2, err := upload(ctxB, s.conn, siteID, true, bundle2)
	if err != nil {
		t.Fatal(err)
	}
	rel2 := r2.Release
	if r2.Site.ReleaseId != rel1.Id || r2.Site.Generation != 2 {
		t.Errorf("site after --no-activate upload: release %q generation %d", r2.Site.ReleaseId, r2.Site.Generation)
	}

	list := listReleases(t, ctxB, s, siteID)
	if got, want := releaseIDs(list.Releases), []string{rel2.Id, rel1.Id}; !slices.Equal(got, want) || list.CurrentReleaseId != rel1.Id {
		t.Errorf("ListReleases = %v current %q, want %v current %q", got, list.CurrentReleaseId, want, rel1.Id)
	}
	// Paging: newest first, one per page.
	p1, err := rs.ListReleases(ctxB, &berthv1.ListReleasesRequest{SiteId: siteID, PageSize: 1})
	if err != nil || len(p1.Releases) != 1 || p1.Releases[0].Id != rel2.Id || p1.NextPageToken == "" {
		t.Fatalf("page 1: %v, %v", p1, err)
	}
	p2, err := rs.ListReleases(ctxB, &berthv1.ListReleasesRequest{SiteId: siteID, PageSize: 1, PageToken: p1.NextPageToken})
	if err != nil || len(p2.Releases) != 1 || p2.Releases[0].Id != rel1.Id || p2.NextPageToken != "" {
		t.Fatalf("page 2: %v, %v; want the first release and no next page", p2, err)
	}

	// Roll forward, idempotently, then back.
	act, err := rs.ActivateRelease(ctxB, &berthv1.ActivateReleaseRequest{SiteId: siteID, ReleaseId: rel2.Id})
	if err != nil || act.Site.ReleaseId != rel2.Id || act.Site.Generation != 3 {
		t.Fatalf("activate second: %v, %v", act, err)
	}
	act, err = rs.ActivateRelease(ctxB, &berthv1.ActivateReleaseRequest{SiteId: siteID, ReleaseId: rel2.Id})
	if err != nil || act.Site.Generation != 3 {
		t.Fatalf("activate second again: %v, %v; want no new generation", act, err)
	}
	act, err = rs.ActivateRelease(ctxB, &berthv1.ActivateReleaseRequest{SiteId: siteID, ReleaseId: rel1.Id})
	if err != nil || act.Site.ReleaseId != rel1.Id || act.Site.Generation != 4 {
		t.Fatalf("roll back: %v, %v", act, err)
	}
	got, err := berthv1.NewSiteServiceClient(s.conn).GetSite(ctxB, &berthv1.GetSiteRequest{Id: siteID})
	if err != nil || got.Site.ReleaseId != rel1.Id {
		t.Fatalf("GetSite after rollback: %v, %v", got, err)
	}
	// Another site's release cannot be activated here.
	_, err = rs.ActivateRelease(ctxAdmin, &berthv1.ActivateReleaseRequest{SiteId: siteID, ReleaseId: f.a.releaseID})
	wantCode(t, "activate another site's release", err, codes.NotFound, f.a.releaseID)

	// Delete: not the current one, and only as admin.
	_, err = rs.DeleteRelease(ctxAdmin, &berthv1.DeleteReleaseRequest{SiteId: siteID, ReleaseId: rel1.Id})
	wantCode(t, "delete current release", err, codes.FailedPrecondition, "serves", "rollback")
	_, err = rs.DeleteRelease(ctxB, &berthv1.DeleteReleaseRequest{SiteId: siteID, ReleaseId: rel2.Id})
	wantCode(t, "delete as client", err, codes.PermissionDenied)
	if _, err := rs.DeleteRelease(ctxAdmin, &berthv1.DeleteReleaseRequest{SiteId: siteID, ReleaseId: rel2.Id}); err != nil {
		t.Fatal(err)
	}
	if got := releaseIDs(listReleases(t, ctxB, s, siteID).Releases); !slices.Equal(got, []string{rel1.Id}) {
		t.Errorf("releases after delete = %v", got)
	}
	if ok, _ := s.blobs.Exists(rel2.Digest); ok {
		t.Error("the deleted release's bundle is still stored")
	}
	if ok, _ := s.blobs.Exists(rel1.Digest); !ok {
		t.Error("the current release's bundle is gone")
	}
	_, err = rs.DeleteRelease(ctxAdmin, &berthv1.DeleteReleaseRequest{SiteId: siteID, ReleaseId: rel2.Id})
	wantCode(t, "delete again", err, codes.NotFound)

	// Every mutation is audited under the site.
	events, err := berthv1.NewAuditServiceClient(s.conn).ListAuditEvents(ctxAdmin, &berthv1.ListAuditEventsRequest{ResourceId: siteID, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range events.Events {
		counts[e.Method[strings.LastIndex(e.Method, "/")+1:]+" "+e.Code]++
	}
	for key, want := range map[string]int{"CreateRelease OK": 2, "ActivateRelease OK": 3, "DeleteRelease OK": 1, "DeleteRelease FailedPrecondition": 1} {
		if counts[key] != want {
			t.Errorf("audit events %q: %d, want %d (all: %v)", key, counts[key], want, counts)
		}
	}
}

// TestSharedBundleIsKept checks that a bundle used by two releases stays
// stored until the last of them is deleted.
func TestSharedBundleIsKept(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctx := as(t, f.tokens[admin])
	bundle := tarGz(t, map[string]string{"index.html": "same"})
	keep, err := upload(ctx, s.conn, f.b.siteID, false, bundle)
	if err != nil {
		t.Fatal(err)
	}
	old, err := upload(ctx, s.conn, f.b.siteID, true, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if old.Release.Digest != keep.Release.Digest {
		t.Fatalf("same bundle, different digests %s and %s", old.Release.Digest, keep.Release.Digest)
	}
	if _, err := berthv1.NewReleaseServiceClient(s.conn).DeleteRelease(ctx, &berthv1.DeleteReleaseRequest{SiteId: f.b.siteID, ReleaseId: old.Release.Id}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.blobs.Exists(keep.Release.Digest); !ok {
		t.Error("a bundle that another release uses was removed")
	}
}

// TestSweepBlobs deletes sites and checks that SweepBlobs removes exactly
// the bundles no release uses any more, a bundle a crash left unrecorded
// among them, and never one that an upload in progress has pinned.
func TestSweepBlobs(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s) // site A runs f.bundle on a node; site B is not placed
	ctx := as(t, f.tokens[admin])
	shared := tarGz(t, map[string]string{"index.html": "deployed to both sites"})
	own := tarGz(t, map[string]string{"index.html": "only site B's"})
	for _, u := range []struct {
		site   string
		bundle []byte
	}{{f.a.siteID, shared}, {f.b.siteID, shared}, {f.b.siteID, own}} {
		if _, err := upload(ctx, s.conn, u.site, false, u.bundle); err != nil {
			t.Fatal(err)
		}
	}
	stray := []byte("a bundle stored just before a crash, its release never recorded")
	strayDigest, _, err := s.blobs.Write(bytes.NewReader(stray))
	if err != nil {
		t.Fatal(err)
	}
	s.blobs.Unpin(strayDigest)
	pinned, _, err := s.blobs.Write(strings.NewReader("an upload in progress"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.blobs.Unpin(pinned)

	sweep := func(wantRemoved int, wantFreed int) {
		t.Helper()
		n, freed, err := blobs.Collector{Blobs: s.blobs, Store: s.store}.Sweep(context.Background())
		if err != nil || n != wantRemoved || freed != int64(wantFreed) {
			t.Errorf("Sweep = %d, %d bytes, %v; want %d, %d bytes", n, freed, err, wantRemoved, wantFreed)
		}
	}
	stored := func(step string, want ...string) {
		t.Helper()
		list, err := s.blobs.List()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range list {
			got = append(got, b.Digest)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: stored %v, want %v", step, got, want)
		}
	}

	sweep(1, len(stray))
	stored("after the first sweep", digestOf(f.bundle), digestOf(shared), digestOf(own), pinned)
	if _, err := berthv1.NewSiteServiceClient(s.conn).DeleteSite(ctx, &berthv1.DeleteSiteRequest{Id: f.b.siteID}); err != nil {
		t.Fatal(err)
	}
	sweep(1, len(own))
	stored("after deleting site B, whose shared bundle site A also uses", digestOf(f.bundle), digestOf(shared), pinned)
	// Site A is on a node: its row goes once the node reports it removed.
	s.update(t, func(tx store.Tx) error { return tx.DeleteSite(f.a.siteID) })
	sweep(2, len(f.bundle)+len(shared))
	stored("after site A is gone too", pinned)
}

// TestCreateReleaseRejects checks bundles and streams that are refused:
// nothing is left behind, neither a blob nor a release nor a scratch file.
func TestCreateReleaseRejects(t *testing.T) {
	blobDir := t.TempDir()
	bl, err := blobs.New(blobs.Options{Dir: blobDir, MaxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, func(o *api.Options) { o.Blobs = bl })
	f := newFixture(t, s)
	// The fixture's releases are in the blob store already.
	before := s.blobFiles(t, blobDir)
	big := make([]byte, 100<<10)
	rand.Read(big)

	tests := []struct {
		name   string
		bundle []byte
		code   codes.Code
		want   []string
	}{
		{"traversal", rawTarGz(t, []*tar.Header{
			{Name: "index.html", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
			{Name: "../evil.html", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4},
		}, []string{"ok", "evil"}), codes.InvalidArgument, []string{`"../evil.html"`, "leaves the release"}},
		{"absolute symlink", rawTarGz(t, []*tar.Header{
			{Name: "passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		}, []string{""}), codes.InvalidArgument, []string{`"passwd"`, "absolute"}},
		{"hard link", rawTarGz(t, []*tar.Header{
			{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
			{Name: "b", Typeflag: tar.TypeLink, Linkname: "a"},
		}, []string{"a", ""}), codes.InvalidArgument, []string{`"b"`, "hard links"}},
		{"not gzip", []byte("<html>not an archive</html>"), codes.InvalidArgument, []string{"not a complete gzip-compressed tar archive"}},
		{"truncated", tarGz(t, map[string]string{"index.html": strings.Repeat("x", 5000)})[:60], codes.InvalidArgument, []string{"not a complete"}},
		{"empty", nil, codes.InvalidArgument, []string{"empty"}},
		{"oversize", tarGz(t, map[string]string{"big.bin": string(big)}), codes.InvalidArgument, []string{"larger than 64 KiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := as(t, f.tokens[clientA])
			_, err := upload(ctx, s.conn, f.a.siteID, false, tt.bundle)
			wantCode(t, "upload", err, tt.code, tt.want...)
			if got := s.blobFiles(t, blobDir); !slices.Equal(got, before) {
				t.Errorf("blob files after a refused upload: %v, want %v", got, before)
			}
			if ids := releaseIDs(listReleases(t, ctx, s, f.a.siteID).Releases); len(ids) != 2 {
				t.Errorf("releases after a refused upload: %v, want the fixture's two", ids)
			}
			if ents, _ := os.ReadDir(s.scratch); len(ents) != 0 {
				t.Errorf("scratch directory not empty: %v", ents)
			}
		})
	}

	t.Run("no header", func(t *testing.T) {
		stream, err := berthv1.NewReleaseServiceClient(s.conn).CreateRelease(as(t, f.tokens[admin]))
		if err != nil {
			t.Fatal(err)
		}
		stream.Send(&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Chunk{Chunk: []byte("x")}})
		_, err = stream.CloseAndRecv()
		wantCode(t, "chunk first", err, codes.InvalidArgument, "header")
	})
	t.Run("two headers", func(t *testing.T) {
		stream, err := berthv1.NewReleaseServiceClient(s.conn).CreateRelease(as(t, f.tokens[admin]))
		if err != nil {
			t.Fatal(err)
		}
		hdr := &berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Header{Header: &berthv1.ReleaseUploadHeader{SiteId: f.a.siteID}}}
		stream.Send(hdr)
		stream.Send(hdr)
		_, err = stream.CloseAndRecv()
		wantCode(t, "header twice", err, codes.InvalidArgument, "only the first message")
	})
}

// TestCreateReleaseScope checks who may upload where: client B not to A's
// site, nobody to a WordPress site or one that does not exist.
func TestCreateReleaseScope(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	bundle := tarGz(t, map[string]string{"index.html": "from B"})

	_, err := upload(as(t, f.tokens[clientB]), s.conn, f.a.siteID, false, bundle)
	wantCode(t, "client B to A's site", err, codes.NotFound, f.a.siteID)
	if ok, _ := s.blobs.Exists(digestOf(bundle)); ok {
		t.Error("client B's bundle was stored")
	}
	_, err = berthv1.NewReleaseServiceClient(s.conn).ActivateRelease(as(t, f.tokens[clientB]),
		&berthv1.ActivateReleaseRequest{SiteId: f.a.siteID, ReleaseId: f.a.oldReleaseID})
	wantCode(t, "client B activates on A's site", err, codes.NotFound)

	now := time.Now().UTC()
	wp := &store.Site{ID: store.NewID("site", now), ClientID: f.a.clientID, Name: "blog", Kind: store.SiteKindWordPress,
		PrimaryDomain: "blog-" + f.seq + ".test", MemoryMiB: 256, CPUMillicores: 500, WPTitle: "Blog", WPAdminEmail: "a@b.test",
		State: store.SiteStatePending, Generation: 1, CreateTime: now, UpdateTime: now}
	s.update(t, func(tx store.Tx) error { return tx.CreateSite(wp) })
	_, err = upload(as(t, f.tokens[admin]), s.conn, wp.ID, false, bundle)
	wantCode(t, "WordPress site", err, codes.FailedPrecondition, "releases are for STATIC sites")
	_, err = berthv1.NewReleaseServiceClient(s.conn).ListReleases(as(t, f.tokens[clientA]), &berthv1.ListReleasesRequest{SiteId: wp.ID})
	wantCode(t, "list on a WordPress site", err, codes.FailedPrecondition, "STATIC")

	_, err = upload(as(t, f.tokens[admin]), s.conn, store.NewID("site", now), false, bundle)
	wantCode(t, "missing site", err, codes.NotFound)
	_, err = upload(as(t, f.tokens[admin]), s.conn, "../site", false, bundle)
	wantCode(t, "bad site id", err, codes.InvalidArgument)
}

// TestFetchRelease checks that a node receives its sites' release bundles,
// in chunks of at most 1 MiB, and the release in its desired state; and
// nothing of sites elsewhere.
func TestFetchRelease(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	big := make([]byte, 3<<19) // 1.5 MiB that gzip cannot shrink
	rand.Read(big)
	bundle := tarGz(t, map[string]string{"index.html": "hi", "big.bin": string(big)})
	resp, err := upload(as(t, f.tokens[clientA]), s.conn, f.a.siteID, false, bundle)
	if err != nil {
		t.Fatal(err)
	}
	rel := resp.Release
	nodeConn := s.dial(t, &f.nodeCert)
	agents := agentv1.NewAgentServiceClient(nodeConn)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := agents.FetchRelease(ctx, &agentv1.FetchReleaseRequest{ReleaseId: rel.Id})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	chunks := 0
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Chunk) > 1<<20 {
			t.Errorf("chunk of %d bytes, want at most 1 MiB", len(msg.Chunk))
		}
		chunks++
		got = append(got, msg.Chunk...)
	}
	if !bytes.Equal(got, bundle) || chunks < 2 {
		t.Errorf("fetched %d bytes in %d chunks; want the %d-byte bundle in at least 2", len(got), chunks, len(bundle))
	}

	// Client B's release: its site is not on this node.
	relB, err := upload(as(t, f.tokens[clientB]), s.conn, f.b.siteID, false, tarGz(t, map[string]string{"index.html": "b"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{relB.Release.Id, store.NewID("rel", time.Now())} {
		stream, err := agents.FetchRelease(ctx, &agentv1.FetchReleaseRequest{ReleaseId: id})
		if err == nil {
			_, err = stream.Recv()
		}
		wantCode(t, "fetch "+id, err, codes.NotFound)
	}

	// The desired state names the release and its digest.
	conn, err := agents.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(&agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Hello{Hello: &agentv1.AgentHello{Facts: testFacts()}}}); err != nil {
		t.Fatal(err)
	}
	msg, err := conn.Recv()
	if err != nil {
		t.Fatal(err)
	}
	sites := msg.GetDesiredState().GetSites()
	if len(sites) != 1 || sites[0].ReleaseId != rel.Id || sites[0].ReleaseDigest != rel.Digest {
		t.Errorf("desired state %v: want site A with release %s (%s)", sites, rel.Id, rel.Digest)
	}
}
