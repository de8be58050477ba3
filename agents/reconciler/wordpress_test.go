package reconciler

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/agents/terminal"
)

// A node id as internal/store makes them.
const exampleNodeID = "node_01jd3m5kq8x7w2c9v4r6t0yzab"

func TestChooseMariaDB(t *testing.T) {
	perNode := mariaDB{Container: "berth-mariadb-" + exampleNodeID, Network: "berth-mariadb-" + exampleNodeID,
		Volume: "berth-mariadb-" + exampleNodeID + "-data"}
	legacy := mariaDB{Container: "berth-mariadb", Network: "berth-mariadb", Volume: "berth-mariadb-data"}
	for _, tc := range []struct {
		name        string
		rootSecret  bool
		legacy      legacyMariaDB
		want        mariaDB
		wantAdopted bool
	}{
		{"new node on an empty engine", false, legacyMariaDB{}, perNode, false},
		{"new node beside a legacy MariaDB", false, legacyMariaDB{volume: true}, perNode, false},
		{"upgraded node with its legacy data", true, legacyMariaDB{volume: true}, legacy, true},
		{"upgraded node whose container carries its label already", true, legacyMariaDB{volume: true, owner: exampleNodeID}, legacy, true},
		{"node with a password but no legacy data", true, legacyMariaDB{}, perNode, false},
		{"legacy MariaDB claimed by another node", true, legacyMariaDB{volume: true, owner: "node_other"}, perNode, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, adopted := chooseMariaDB(exampleNodeID, tc.rootSecret, tc.legacy)
			if diff := cmp.Diff(tc.want, got); diff != "" || adopted != tc.wantAdopted {
				t.Errorf("chooseMariaDB: adopted %v, want %v; names (-want +got):\n%s", adopted, tc.wantAdopted, diff)
			}
		})
	}
}

func TestMariaDBNamesAreValidDockerNames(t *testing.T) {
	// agents/runtime/docker's rule for container, network and volume names.
	dockerName := regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,127}$`)
	for _, m := range []mariaDB{nodeMariaDBNames(exampleNodeID), nodeMariaDBNames(testNodeID()), legacyMariaDBNames} {
		for _, n := range []string{m.Container, m.Network, m.Volume, mariaAlias} {
			if !dockerName.MatchString(n) {
				t.Errorf("%q is not a valid Docker name", n)
			}
		}
	}
	if a, b := nodeMariaDBNames("node_a"), nodeMariaDBNames("node_b"); a.Container == b.Container || a.Volume == b.Volume || a.Network == b.Network {
		t.Errorf("two nodes share MariaDB names: %+v and %+v", a, b)
	}
}

func TestMariaDBNamesAreRecorded(t *testing.T) {
	t.Run("a new node records names of its own", func(t *testing.T) {
		dir := t.TempDir()
		r := New(Options{NodeID: exampleNodeID, DataDir: dir})
		got, err := r.mariaDB(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(nodeMariaDBNames(exampleNodeID), got); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
		var recorded mariaDB
		b, err := os.ReadFile(filepath.Join(dir, mariaNamesFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &recorded); err != nil || recorded != got {
			t.Errorf("recorded %s (%v), want %+v", b, err, got)
		}
	})
	t.Run("recorded names are kept", func(t *testing.T) {
		dir := t.TempDir()
		// Without a Runtime: a recorded choice needs no look at the engine.
		b, _ := json.Marshal(legacyMariaDBNames)
		if err := os.WriteFile(filepath.Join(dir, mariaNamesFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := New(Options{NodeID: exampleNodeID, DataDir: dir}).mariaDB(t.Context())
		if err != nil || got != legacyMariaDBNames {
			t.Errorf("mariaDB = %+v, %v; want the recorded %+v", got, err, legacyMariaDBNames)
		}
	})
	t.Run("damaged record", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, mariaNamesFile), []byte(`{"container":"berth-mariadb"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Options{NodeID: exampleNodeID, DataDir: dir}).mariaDB(t.Context()); !terminal.Is(err) {
			t.Errorf("mariaDB with a damaged record: %v, want a terminal error", err)
		}
	})
	t.Run("no node id", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := New(Options{DataDir: dir}).mariaDB(t.Context()); !terminal.Is(err) {
			t.Errorf("mariaDB without a node id: %v, want a terminal error", err)
		}
		if _, err := os.Stat(filepath.Join(dir, mariaNamesFile)); !os.IsNotExist(err) {
			t.Errorf("names recorded without a node id: %v", err)
		}
	})
}

func TestInspectLegacyMariaDB(t *testing.T) {
	h := newHarness(t)
	// Names of the test's own standing in for the legacy ones, which may
	// belong to a real node on this engine.
	legacy := nodeMariaDBNames(testNodeID())
	ctx := t.Context()
	got, err := h.r.inspectLegacyMariaDB(ctx, legacy)
	if err != nil || got != (legacyMariaDB{}) {
		t.Errorf("on an engine without them: %+v, %v; want nothing", got, err)
	}

	// A volume as nodes made them before names were per node.
	t.Cleanup(func() { h.rt.RemoveVolume(context.Background(), legacy.Volume) })
	if err := h.rt.EnsureVolume(ctx, legacy.Volume, map[string]string{LabelManaged: "true", LabelKind: "mariadb"}); err != nil {
		t.Fatal(err)
	}
	got, err = h.r.inspectLegacyMariaDB(ctx, legacy)
	if err != nil || got != (legacyMariaDB{volume: true}) {
		t.Errorf("with the legacy volume: %+v, %v; want the volume and no owner", got, err)
	}

	// The container, once a node has taken it over, carries its label.
	if _, err := h.rt.EnsureContainer(ctx, docker.ContainerSpec{Name: legacy.Container, Image: DefaultImages.Static,
		Labels: h.r.labels("", "mariadb"), Network: "none", MemoryMiB: 16}); err != nil {
		t.Fatal(err)
	}
	got, err = h.r.inspectLegacyMariaDB(ctx, legacy)
	if err != nil || got != (legacyMariaDB{volume: true, owner: h.nodeID}) {
		t.Errorf("with the legacy container of this node: %+v, %v; want the volume and owner %s", got, err, h.nodeID)
	}
}
