package controlplane

import (
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// uploadChunk is the size of the chunks the upload handler forwards.
const uploadChunk = 1 << 20

// newUploadHandler serves POST /v1/sites/{id}/releases: the REST form of
// ReleaseService.CreateRelease, with the bundle (tar.gz) as the raw request
// body and ?no_activate=true to upload without switching the site to it.
//
// The gateway cannot map a raw body onto a client stream, so this handler
// does what the gateway does for other calls: it authenticates nothing
// itself but forwards the caller's Authorization header (and the peer
// address, as x-forwarded-for) over the gateway's in-process connection, so
// the upload passes the same interceptors (authentication, authorization,
// audit, metrics) as a gRPC call. Responses and errors are written by gw's
// marshaler and error handler, exactly as the gateway writes them.
func newUploadHandler(gw *runtime.ServeMux, conn *grpc.ClientConn) http.Handler {
	client := berthv1.NewReleaseServiceClient(conn)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		_, out := runtime.MarshalerForRequest(gw, r)
		fail := func(err error) { runtime.HTTPError(ctx, gw, out, w, r, err) }

		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err == nil && (mt == "multipart/form-data" || mt == "application/json") {
				fail(status.Errorf(codes.InvalidArgument, "send the tar.gz as the raw request body, not as %s: "+
					"curl --data-binary @site.tar.gz -H 'Content-Type: application/gzip' ...", mt))
				return
			}
		}
		noActivate := false
		if v := r.URL.Query().Get("no_activate"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				fail(status.Errorf(codes.InvalidArgument, "no_activate %q: want true or false", v))
				return
			}
			noActivate = b
		}

		md := metadata.MD{}
		if v := r.Header.Get("Authorization"); v != "" {
			md.Set("authorization", v)
		}
		// As the gateway does: the real peer goes last, after any the
		// client claims.
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
				md.Set("x-forwarded-for", fwd+", "+host)
			} else {
				md.Set("x-forwarded-for", host)
			}
		}
		stream, err := client.CreateRelease(metadata.NewOutgoingContext(ctx, md))
		if err != nil {
			fail(err)
			return
		}
		err = stream.Send(&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Header{
			Header: &berthv1.ReleaseUploadHeader{SiteId: r.PathValue("id"), NoActivate: noActivate}}})
		for err == nil {
			// A fresh buffer each time: gRPC may hold on to a sent message.
			buf := make([]byte, uploadChunk)
			n, rerr := io.ReadFull(r.Body, buf)
			if n > 0 {
				err = stream.Send(&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Chunk{Chunk: buf[:n]}})
			}
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			if rerr != nil {
				cancel() // the upload is incomplete: abort it
				fail(status.Errorf(codes.InvalidArgument, "read request body: %v", rerr))
				return
			}
		}
		// io.EOF from Send means the server ended the call early (denied,
		// too large, ...); CloseAndRecv returns its status.
		if err != nil && !errors.Is(err, io.EOF) {
			fail(err)
			return
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			fail(err)
			return
		}
		body, err := out.Marshal(resp)
		if err != nil {
			fail(status.Error(codes.Internal, "encode response"))
			return
		}
		w.Header().Set("Content-Type", out.ContentType(resp))
		w.Write(body)
	})
}
