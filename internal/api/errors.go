package api

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/validate"
)

// errFailedPrecondition marks an operation refused because of the state of
// the system; the wrapping error says what to do first.
var errFailedPrecondition = errors.New("failed precondition")

// errServerClosing ends streams when the server shuts down; clients retry.
var errServerClosing = status.Error(codes.Unavailable, "berthd is shutting down; retry")

// toStatus maps an error from a handler to the gRPC status that is the API's
// error contract. Errors that already are statuses pass through; unknown
// errors become Internal with a generic message, so internals never leak.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var verr *validate.Error
	switch {
	case errors.As(err, &verr):
		return status.Error(codes.InvalidArgument, verr.Error())
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, trimSentinel(err, store.ErrNotFound))
	case errors.Is(err, store.ErrConflict):
		return status.Error(codes.AlreadyExists, trimSentinel(err, store.ErrConflict))
	case errors.Is(err, store.ErrInUse):
		return status.Error(codes.FailedPrecondition, trimSentinel(err, store.ErrInUse))
	case errors.Is(err, errFailedPrecondition):
		return status.Error(codes.FailedPrecondition, trimSentinel(err, errFailedPrecondition))
	case errors.Is(err, auth.ErrNoCredential):
		return status.Error(codes.Unauthenticated, "no credential: send an API token as \"authorization: Bearer berth_...\"")
	case errors.Is(err, auth.ErrInvalidCredential):
		return status.Error(codes.Unauthenticated, "the token is invalid, expired or revoked: log in again or create a new token")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the call's deadline passed before it finished")
	default:
		return status.Error(codes.Internal, "internal error; the server log has details")
	}
}

// trimSentinel returns err's message without the ": <sentinel>" suffix the
// store adds, so callers read "domain \"a.com\" is already used by another
// site" rather than a package name.
func trimSentinel(err, sentinel error) string {
	msg := err.Error()
	if msg == sentinel.Error() {
		return strings.TrimPrefix(strings.TrimPrefix(msg, "store: "), "failed precondition")
	}
	return strings.TrimSuffix(msg, ": "+sentinel.Error())
}

// notFound is the error for a missing resource, and also for one the caller
// may not see: client principals cannot tell the two apart, so ids cannot be
// probed.
func notFound(kind, id string) error {
	return status.Errorf(codes.NotFound, "%s %q not found", kind, id)
}
