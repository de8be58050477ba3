// Package terminal marks the node's errors that retrying cannot fix: an
// invalid spec, a spec the engine refuses, a missing image, damaged local
// records. The runtime and the reconciler mark such errors where they find
// them; the reconciler reports the site FAILED and does not requeue it until
// its spec changes or a resync comes (controller-runtime's TerminalError).
// Every other error is retryable.
package terminal

import (
	"errors"
	"fmt"
)

// terminalError marks an error that retrying cannot fix.
type terminalError struct{ err error }

func (e *terminalError) Error() string { return e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }

// Wrap marks err as terminal; its message is unchanged. Wrap(nil) is nil.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

// Errorf is fmt.Errorf for a terminal error.
func Errorf(format string, args ...any) error {
	return Wrap(fmt.Errorf(format, args...))
}

// Is reports whether err is terminal: whether it or any error it wraps was
// marked by Wrap or Errorf.
func Is(err error) bool {
	var t *terminalError
	return errors.As(err, &t)
}
