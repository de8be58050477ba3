package agent

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// The test of a whole run against a fake berthd is in agents/client
// (agent_test.go), beside that fake.

// TestRunNotJoined runs the agent as a real node would (Run: sites on the
// local Docker engine) with no engine to reach: the missing join is found
// on disk and reported before Docker is dialled.
func TestRunNotJoined(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	cfg := DefaultConfig()
	cfg.DataDir, cfg.NodeName = t.TempDir(), "n1"
	err := Run(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--join-token") {
		t.Errorf("Run without identity or token = %v, want an error saying to join", err)
	}
}

// TestRunWithOpensTheEngineAfterTheIdentity: a node that has not joined
// and has no token never opens the engine.
func TestRunWithOpensTheEngineAfterTheIdentity(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.NodeName = t.TempDir(), "n1"
	opened := false
	open := func(context.Context, Config, *slog.Logger) (Engine, error) {
		opened = true
		return nil, context.Canceled
	}
	if err := RunWith(context.Background(), cfg, slog.New(slog.DiscardHandler), open); err == nil || !strings.Contains(err.Error(), "--join-token") {
		t.Errorf("RunWith without identity or token = %v, want an error saying to join", err)
	}
	if opened {
		t.Error("the engine was opened before the missing identity was found")
	}
}
