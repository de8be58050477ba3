package docker

import (
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
)

// ErrNotFound reports that a container, network or volume does not exist.
var ErrNotFound = errors.New("docker: not found")

// ErrImageMissing reports that a container's image is not present on the node.
// Nodes never pull implicitly; images come from `make images` or a registry
// pull done elsewhere. Errors wrapping it are terminal.
var ErrImageMissing = errors.New("docker: image missing")

// IsTerminal reports whether retrying the operation that returned err cannot
// help: the spec is invalid or refused by policy, or the image is missing.
// Every other error (timeouts, an unreachable or busy engine, conflicts with a
// concurrent change, a network that does not exist yet) is retryable.
func IsTerminal(err error) bool {
	var t *terminalError
	return errors.As(err, &t) || errors.Is(err, ErrImageMissing)
}

// terminalError marks an error that retrying cannot fix.
type terminalError struct{ err error }

func (e *terminalError) Error() string { return e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }

// terminal marks err as terminal.
func terminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

// terminalf is fmt.Errorf for terminal errors.
func terminalf(format string, args ...any) error {
	return terminal(fmt.Errorf(format, args...))
}

// imageMissingError carries the user-facing message for a missing image.
type imageMissingError struct{ ref string }

func (e *imageMissingError) Error() string {
	return fmt.Sprintf("image %q not found on this node — run `make images`", e.ref)
}

func (e *imageMissingError) Is(target error) bool { return target == ErrImageMissing }

// isNotFound reports whether the engine said the object does not exist.
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
