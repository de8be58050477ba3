package terminal

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestIs(t *testing.T) {
	bad := Errorf("memory limit %d MiB: at least 6 MiB is required", 4)
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("engine busy"), false},
		{"wrapped plain", fmt.Errorf("create container x: %w", fs.ErrNotExist), false},
		{"Errorf", bad, true},
		{"Wrap", Wrap(fs.ErrPermission), true},
		{"wrapped by context", fmt.Errorf("create container x: %w", bad), true},
		{"joined with a retryable one", errors.Join(errors.New("timeout"), bad), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Is(tc.err); got != tc.want {
				t.Errorf("Is(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrapKeepsTheError(t *testing.T) {
	if Wrap(nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
	err := fmt.Errorf("open state: %w", Wrap(fs.ErrNotExist))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("a terminal error does not unwrap to the error it marks")
	}
	if got, want := err.Error(), "open state: file does not exist"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}
