package docker

import (
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/fixaroo/berth/agents/terminal"
)

// ErrNotFound reports that a container, network or volume does not exist.
var ErrNotFound = errors.New("docker: not found")

// ErrImageMissing reports that a container's image is not present on the node.
// Nodes never pull implicitly; images come from `make images` or a registry
// pull done elsewhere. The runtime's errors wrapping it are terminal.
var ErrImageMissing = errors.New("docker: image missing")

// imageMissingError carries the user-facing message for a missing image.
type imageMissingError struct{ ref string }

func (e *imageMissingError) Error() string {
	return fmt.Sprintf("image %q not found on this node — run `make images`", e.ref)
}

func (e *imageMissingError) Is(target error) bool { return target == ErrImageMissing }

// imageMissing is the terminal error for a missing image ref.
func imageMissing(ref string) error { return terminal.Wrap(&imageMissingError{ref: ref}) }

// isNotFound reports whether the engine said the object does not exist.
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
