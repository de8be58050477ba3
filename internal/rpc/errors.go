package rpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
)

// UserError is an error whose message is meant for the caller, with the
// status code it maps to. Err, if set, is the cause: errors.Is sees it and
// the server log shows it, the caller does not.
type UserError struct {
	Code codes.Code
	Msg  string // what is wrong and what to do about it
	Err  error
}

func (e *UserError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *UserError) Unwrap() error { return e.Err }

// FailedPrecondition refuses an operation because of the state of the
// system; the message says what to do first.
func FailedPrecondition(format string, args ...any) error {
	return &UserError{Code: codes.FailedPrecondition, Msg: fmt.Sprintf(format, args...)}
}

// InvalidArgument rejects what the caller sent because of cause; msg says
// what to fix.
func InvalidArgument(cause error, msg string) error {
	return &UserError{Code: codes.InvalidArgument, Msg: msg, Err: cause}
}

// ErrServerClosing ends streams when the server shuts down; clients retry.
var ErrServerClosing = status.Error(codes.Unavailable, "berthd is shutting down; retry")

// storeCodes maps the store's sentinels to codes, with the message for a
// sentinel that comes without a [store.Error].
var storeCodes = []struct {
	kind error
	code codes.Code
	msg  string
}{
	{store.ErrNotFound, codes.NotFound, "not found"},
	{store.ErrConflict, codes.AlreadyExists, "already exists"},
	{store.ErrInUse, codes.FailedPrecondition, "still in use"},
}

// ToStatus maps an error from a handler to the gRPC status that is the
// services' error contract. Errors that already are statuses pass through; unknown
// errors become Internal with a generic message, so internals never leak.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var (
		uerr *UserError
		verr *validate.Error
		serr *store.Error
	)
	switch {
	case errors.As(err, &uerr):
		return status.Error(uerr.Code, uerr.Msg)
	case errors.As(err, &verr):
		return status.Error(codes.InvalidArgument, verr.Error())
	case errors.As(err, &serr):
		for _, s := range storeCodes {
			if serr.Kind == s.kind && serr.Msg != "" {
				return status.Error(s.code, serr.Msg)
			}
		}
	case errors.Is(err, auth.ErrNoCredential):
		return status.Error(codes.Unauthenticated, "no credential: send an API token as \"authorization: Bearer berth_...\"")
	case errors.Is(err, auth.ErrInvalidCredential):
		return status.Error(codes.Unauthenticated, "the token is invalid, expired or revoked: log in again or create a new token")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the call's deadline passed before it finished")
	}
	for _, s := range storeCodes {
		if errors.Is(err, s.kind) {
			return status.Error(s.code, s.msg)
		}
	}
	return status.Error(codes.Internal, "internal error; the server log has details")
}

// NotFound is the error for a missing resource, and also for one the caller
// may not see: client principals cannot tell the two apart, so ids cannot be
// probed.
func NotFound(kind, id string) error {
	return status.Errorf(codes.NotFound, "%s %q not found", kind, id)
}
