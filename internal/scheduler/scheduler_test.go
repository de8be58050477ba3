package scheduler

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func node(id string, mem, cpu int64) Node {
	return Node{ID: id, State: Ready, MemoryMiB: mem, CPUMillicores: cpu}
}

func withState(n Node, s NodeState) Node { n.State = s; return n }

func withLabels(n Node, kv ...string) Node {
	n.Labels = pairs(kv...)
	return n
}

func pairs(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// pending is a pending static site of client c.
func pending(id, c string, mem, cpu int64) Site {
	return Site{ID: id, ClientID: c, Kind: Static, MemoryMiB: mem, CPUMillicores: cpu}
}

func on(s Site, nodeID string) Site { s.NodeID = nodeID; return s }

func wordpress(s Site) Site { s.Kind = WordPress; return s }

func selecting(s Site, kv ...string) Site {
	s.Selector = pairs(kv...)
	return s
}

func placed(kv ...string) []Placement {
	var p []Placement
	for i := 0; i < len(kv); i += 2 {
		p = append(p, Placement{SiteID: kv[i], NodeID: kv[i+1]})
	}
	return p
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name  string
		nodes []Node
		sites []Site
		want  Plan
	}{
		{
			name:  "fits by memory and cpu independently",
			nodes: []Node{node("a-mem-only", 4096, 100), node("b-cpu-only", 100, 4000), node("c-both", 1024, 1000)},
			sites: []Site{pending("s1", "x", 512, 500)},
			want:  Plan{Placements: placed("s1", "c-both")},
		},
		{
			name:  "memory alone short",
			nodes: []Node{node("a", 300, 4000)},
			sites: []Site{pending("s1", "x", 512, 500)},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node has 512 MiB memory and 500 millicores free (closest: a with 300 MiB and 4000 millicores free)"}}},
		},
		{
			name:  "cpu alone short",
			nodes: []Node{node("a", 4096, 400)},
			sites: []Site{pending("s1", "x", 512, 500)},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node has 512 MiB memory and 500 millicores free (closest: a with 4096 MiB and 400 millicores free)"}}},
		},
		{
			name:  "exact fit",
			nodes: []Node{node("a", 512, 500)},
			sites: []Site{pending("s1", "x", 512, 500)},
			want:  Plan{Placements: placed("s1", "a")},
		},
		{
			name: "never on NotReady or Draining",
			nodes: []Node{
				withState(node("a-big-notready", 1<<20, 1<<20), NotReady),
				withState(node("b-big-draining", 1<<20, 1<<20), Draining),
				{ID: "c-big-unset", MemoryMiB: 1 << 20, CPUMillicores: 1 << 20},
				node("d-small-ready", 1024, 1000),
			},
			sites: []Site{pending("s1", "x", 512, 500), pending("s2", "y", 512, 500), pending("s3", "z", 512, 500)},
			want: Plan{
				Placements: placed("s1", "d-small-ready", "s2", "d-small-ready"),
				Unplaced: []Unplaced{{SiteID: "s3",
					Reason: "no ready node has 512 MiB memory and 500 millicores free (closest: d-small-ready with 0 MiB and 0 millicores free)"}},
			},
		},
		{
			name:  "no ready node among existing nodes",
			nodes: []Node{withState(node("a", 4096, 4000), NotReady), withState(node("b", 4096, 4000), Draining), withState(node("c", 4096, 4000), NotReady)},
			sites: []Site{pending("s1", "x", 512, 500)},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node (2 not ready, 1 draining): join a node with `berth node join-token`"}}},
		},
		{
			name:  "zero nodes",
			sites: []Site{pending("s1", "x", 512, 500)},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node: join a node with `berth node join-token`"}}},
		},
		{
			name:  "nothing pending",
			nodes: []Node{node("a", 4096, 4000)},
			sites: []Site{on(pending("s1", "x", 512, 500), "a")},
			want:  Plan{},
		},
		{
			name:  "spreads one client's pending sites over nodes",
			nodes: []Node{node("a", 8192, 8000), node("b", 8192, 8000), node("c", 8192, 8000)},
			sites: []Site{pending("s1", "x", 256, 100), pending("s2", "x", 256, 100), pending("s3", "x", 256, 100), pending("s4", "x", 256, 100)},
			want:  Plan{Placements: placed("s1", "a", "s2", "b", "s3", "c", "s4", "a")},
		},
		{
			name: "client spread beats free memory",
			// a has far more free memory, but client x already runs there.
			nodes: []Node{node("a", 65536, 8000), node("b", 2048, 8000)},
			sites: []Site{on(pending("old", "x", 1024, 100), "a"), pending("new", "x", 256, 100)},
			want:  Plan{Placements: placed("new", "b")},
		},
		{
			name: "other clients do not count against spread",
			// a: 98% free with client y's site; b: 50% free.
			nodes: []Node{node("a", 65536, 8000), node("b", 2048, 8000)},
			sites: []Site{on(pending("old", "y", 1024, 100), "a"), on(pending("ob", "z", 1024, 100), "b"), pending("new", "x", 256, 100)},
			want:  Plan{Placements: placed("new", "a")},
		},
		{
			name: "free memory fraction, not absolute free memory",
			// a: 1000 of 2000 free (50%); b: 600 of 1000 free (60%).
			nodes: []Node{node("a", 2000, 8000), node("b", 1000, 8000)},
			sites: []Site{on(pending("oa", "y", 1000, 100), "a"), on(pending("ob", "z", 400, 100), "b"), pending("new", "x", 100, 100)},
			want:  Plan{Placements: placed("new", "b")},
		},
		{
			name:  "capacity consumed by earlier placements in the same call",
			nodes: []Node{node("a", 1000, 8000)},
			sites: []Site{pending("s1", "x", 600, 100), pending("s2", "y", 600, 100)},
			want: Plan{
				Placements: placed("s1", "a"),
				Unplaced: []Unplaced{{SiteID: "s2",
					Reason: "no ready node has 600 MiB memory and 100 millicores free (closest: a with 400 MiB and 7900 millicores free)"}},
			},
		},
		{
			name:  "cpu consumed by earlier placements in the same call",
			nodes: []Node{node("a", 8192, 1000)},
			sites: []Site{pending("s1", "x", 100, 600), pending("s2", "y", 100, 600)},
			want: Plan{
				Placements: placed("s1", "a"),
				Unplaced: []Unplaced{{SiteID: "s2",
					Reason: "no ready node has 100 MiB memory and 600 millicores free (closest: a with 8092 MiB and 400 millicores free)"}},
			},
		},
		{
			name: "largest memory first, then ID",
			// By ID alone "a-small" would go first and leave no room for "z-big";
			// "m-mid" still fits in what "a-small" could not use.
			nodes: []Node{node("n", 1000, 8000)},
			sites: []Site{pending("a-small", "x", 300, 100), pending("z-big", "y", 800, 100), pending("m-mid", "w", 200, 100)},
			want: Plan{
				Placements: placed("z-big", "n", "m-mid", "n"),
				Unplaced: []Unplaced{{SiteID: "a-small",
					Reason: "no ready node has 300 MiB memory and 100 millicores free (closest: n with 200 MiB and 7900 millicores free)"}},
			},
		},
		{
			name:  "placed sites use capacity, sites on unknown nodes do not",
			nodes: []Node{node("a", 1000, 8000), node("b", 1000, 8000)},
			sites: []Site{on(pending("oa", "y", 900, 100), "a"), on(pending("gone", "y", 900, 100), "nowhere"), pending("new", "x", 500, 100)},
			want:  Plan{Placements: placed("new", "b")},
		},
		{
			name:  "selector picks a matching node",
			nodes: []Node{withLabels(node("a", 65536, 8000), "region", "us"), withLabels(node("b", 1024, 1000), "region", "eu", "disk", "ssd")},
			sites: []Site{selecting(pending("s1", "x", 512, 500), "region", "eu")},
			want:  Plan{Placements: placed("s1", "b")},
		},
		{
			name:  "selector needs every label",
			nodes: []Node{withLabels(node("a", 65536, 8000), "region", "eu"), withLabels(node("b", 1024, 1000), "region", "eu", "disk", "ssd")},
			sites: []Site{selecting(pending("s1", "x", 512, 500), "region", "eu", "disk", "ssd")},
			want:  Plan{Placements: placed("s1", "b")},
		},
		{
			name:  "selector with an empty value needs the key",
			nodes: []Node{node("a", 65536, 8000), withLabels(node("b", 1024, 1000), "gpu", "")},
			sites: []Site{selecting(pending("s1", "x", 512, 500), "gpu", "")},
			want:  Plan{Placements: placed("s1", "b")},
		},
		{
			name:  "selector matches no ready node",
			nodes: []Node{withLabels(node("a", 65536, 8000), "region", "us"), withState(withLabels(node("b", 65536, 8000), "region", "eu"), Draining)},
			sites: []Site{selecting(pending("s1", "x", 512, 500), "region", "eu", "disk", "ssd")},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node with labels disk=ssd,region=eu: add the labels to a node or change the site's selector"}}},
		},
		{
			name:  "selector matches but nothing fits: closest among matching nodes",
			nodes: []Node{node("a", 65536, 8000), withLabels(node("b", 256, 8000), "region", "eu"), withLabels(node("c", 128, 8000), "region", "eu")},
			sites: []Site{selecting(pending("s1", "x", 512, 500), "region", "eu")},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node with labels region=eu has 512 MiB memory and 500 millicores free (closest: b with 256 MiB and 8000 millicores free)"}}},
		},
		{
			name: "closest node is judged by the scarcer resource",
			// a has more memory but almost no CPU; b covers 90% of both.
			nodes: []Node{node("a", 4000, 10), node("b", 900, 900)},
			sites: []Site{pending("s1", "x", 1000, 1000)},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node has 1000 MiB memory and 1000 millicores free (closest: b with 900 MiB and 900 millicores free)"}}},
		},
		{
			name:  "overcommitted node reports zero free",
			nodes: []Node{node("a", 1000, 1000)},
			sites: []Site{on(pending("big", "y", 1500, 1500), "a"), pending("s1", "x", 10, 10)},
			want: Plan{Unplaced: []Unplaced{{SiteID: "s1",
				Reason: "no ready node has 10 MiB memory and 10 millicores free (closest: a with 0 MiB and 0 millicores free)"}}},
		},
		{
			name:  "negative request",
			nodes: []Node{node("a", 1000, 1000)},
			sites: []Site{pending("s1", "x", -5, 10), pending("s2", "x", 5, -10)},
			want: Plan{Unplaced: []Unplaced{
				{SiteID: "s2", Reason: "the site requests -10 millicores; a request cannot be negative"},
				{SiteID: "s1", Reason: "the site requests -5 MiB memory; a request cannot be negative"},
			}},
		},
		{
			name:  "zero request fits a full node",
			nodes: []Node{node("a", 1000, 1000)},
			sites: []Site{on(pending("full", "y", 1000, 1000), "a"), pending("s1", "x", 0, 0)},
			want:  Plan{Placements: placed("s1", "a")},
		},
		{
			name:  "duplicate node ID: the first counts",
			nodes: []Node{withState(node("a", 1000, 1000), NotReady), node("a", 8000, 8000), node("b", 1000, 1000)},
			sites: []Site{pending("s1", "x", 100, 100)},
			want:  Plan{Placements: placed("s1", "b")},
		},
		{
			name:  "deterministic tie-break by node ID",
			nodes: []Node{node("n3", 4096, 4000), node("n1", 4096, 4000), node("n2", 4096, 4000)},
			sites: []Site{pending("s1", "x", 512, 500)},
			want:  Plan{Placements: placed("s1", "n1")},
		},
		{
			name:  "equal fractions of different sizes tie, ID decides",
			nodes: []Node{node("b", 4000, 4000), node("a", 2000, 4000)},
			sites: []Site{on(pending("ob", "y", 2000, 100), "b"), on(pending("oa", "z", 1000, 100), "a"), pending("s1", "x", 100, 100)},
			want:  Plan{Placements: placed("s1", "a")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Schedule(tt.nodes, tt.sites)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Schedule() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScheduleIgnoresInputOrder runs one fleet under every rotation of its
// nodes and sites; the plan must not change.
func TestScheduleIgnoresInputOrder(t *testing.T) {
	nodes := []Node{
		node("a", 4096, 4000), node("b", 4096, 4000), node("c", 2048, 2000),
		withLabels(node("d", 4096, 4000), "region", "eu"), withState(node("e", 1<<20, 1<<20), Draining),
	}
	sites := []Site{
		on(pending("p1", "x", 512, 500), "a"), on(pending("p2", "y", 1024, 500), "b"),
		pending("s1", "x", 512, 500), pending("s2", "x", 512, 500), pending("s3", "y", 2048, 1000),
		pending("s4", "z", 256, 100), selecting(pending("s5", "x", 256, 100), "region", "eu"),
		pending("s6", "z", 4096, 100), pending("s7", "w", 512, 500), pending("s8", "w", 512, 500),
	}
	want := Schedule(nodes, sites)
	if len(want.Placements) == 0 || len(want.Unplaced) == 0 {
		t.Fatalf("fixture should both place and leave sites unplaced, got %+v", want)
	}
	for i := range nodes {
		for j := range sites {
			t.Run(fmt.Sprintf("nodes+%d/sites+%d", i, j), func(t *testing.T) {
				n := append(append([]Node(nil), nodes[i:]...), nodes[:i]...)
				s := append(append([]Site(nil), sites[j:]...), sites[:j]...)
				if diff := cmp.Diff(want, Schedule(n, s)); diff != "" {
					t.Errorf("Schedule() depends on input order (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestScheduleDoesNotModifyInputs(t *testing.T) {
	nodes := []Node{node("b", 4096, 4000), withLabels(node("a", 4096, 4000), "region", "eu")}
	sites := []Site{pending("s2", "x", 256, 100), selecting(pending("s1", "x", 512, 500), "region", "eu"), on(pending("p", "x", 1, 1), "a")}
	wantNodes := []Node{node("b", 4096, 4000), withLabels(node("a", 4096, 4000), "region", "eu")}
	wantSites := []Site{pending("s2", "x", 256, 100), selecting(pending("s1", "x", 512, 500), "region", "eu"), on(pending("p", "x", 1, 1), "a")}
	Schedule(nodes, sites)
	Drain(nodes, sites, "a")
	Evacuate(nodes, sites, "a")
	if diff := cmp.Diff(wantNodes, nodes); diff != "" {
		t.Errorf("nodes modified (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSites, sites); diff != "" {
		t.Errorf("sites modified (-want +got):\n%s", diff)
	}
}

func TestDrain(t *testing.T) {
	tests := []struct {
		name  string
		nodes []Node
		sites []Site
		drain string
		want  Plan
	}{
		{
			name:  "moves static sites and keeps WordPress with a reason",
			nodes: []Node{withState(node("old", 8192, 8000), Draining), node("b", 4096, 4000), node("c", 4096, 4000)},
			sites: []Site{
				on(pending("st1", "x", 512, 500), "old"),
				on(pending("st2", "x", 512, 500), "old"),
				on(wordpress(pending("wp", "x", 1024, 500)), "old"),
				on(pending("elsewhere", "y", 512, 500), "b"),
				pending("unrelated-pending", "z", 256, 100),
			},
			drain: "old",
			want: Plan{
				Placements: placed("st1", "c", "st2", "b"),
				Unplaced: []Unplaced{{SiteID: "wp",
					Reason: "WordPress sites move with backups, which are not available yet; the site keeps running on old"}},
			},
		},
		{
			name:  "static site that fits nowhere gets the capacity reason",
			nodes: []Node{withState(node("old", 8192, 8000), Draining), node("b", 1024, 4000)},
			sites: []Site{on(pending("big", "x", 2048, 500), "old"), on(pending("small", "x", 512, 500), "old")},
			drain: "old",
			want: Plan{
				Placements: placed("small", "b"),
				Unplaced: []Unplaced{{SiteID: "big",
					Reason: "no ready node has 2048 MiB memory and 500 millicores free (closest: b with 1024 MiB and 4000 millicores free)"}},
			},
		},
		{
			name:  "drained node never receives its own sites, even when still Ready",
			nodes: []Node{node("old", 65536, 64000)},
			sites: []Site{on(pending("st", "x", 512, 500), "old")},
			drain: "old",
			want: Plan{Unplaced: []Unplaced{{SiteID: "st",
				Reason: "no ready node: join a node with `berth node join-token`"}}},
		},
		{
			name:  "other draining and not-ready nodes are not targets",
			nodes: []Node{withState(node("old", 8192, 8000), Draining), withState(node("b", 8192, 8000), Draining), withState(node("c", 8192, 8000), NotReady)},
			sites: []Site{on(pending("st", "x", 512, 500), "old")},
			drain: "old",
			want: Plan{Unplaced: []Unplaced{{SiteID: "st",
				Reason: "no ready node (1 not ready, 1 draining): join a node with `berth node join-token`"}}},
		},
		{
			name:  "moved sites spread by client and keep their selector",
			nodes: []Node{withState(node("old", 8192, 8000), Draining), withLabels(node("a", 8192, 8000), "tier", "gold"), withLabels(node("b", 8192, 8000), "tier", "gold"), node("c", 65536, 64000)},
			sites: []Site{
				on(pending("x-on-a", "x", 512, 500), "a"),
				on(selecting(pending("st", "x", 512, 500), "tier", "gold"), "old"),
			},
			drain: "old",
			want:  Plan{Placements: placed("st", "b")},
		},
		{
			name:  "empty node",
			nodes: []Node{withState(node("old", 8192, 8000), Draining), node("b", 4096, 4000)},
			sites: []Site{on(pending("s", "x", 512, 500), "b")},
			drain: "old",
			want:  Plan{},
		},
		{
			name:  "empty node ID drains nothing, not the pending sites",
			nodes: []Node{node("b", 4096, 4000)},
			sites: []Site{pending("s", "x", 512, 500)},
			drain: "",
			want:  Plan{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Drain(tt.nodes, tt.sites, tt.drain)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Drain(%q) mismatch (-want +got):\n%s", tt.drain, diff)
			}
		})
	}
}

func TestEvacuate(t *testing.T) {
	tests := []struct {
		name  string
		nodes []Node
		sites []Site
		gone  string
		want  Plan
	}{
		{
			name:  "node already removed from the list",
			nodes: []Node{node("b", 4096, 4000), node("c", 2048, 4000)},
			sites: []Site{
				on(pending("st1", "x", 1024, 500), "gone"),
				on(wordpress(pending("wp", "x", 1024, 500)), "gone"),
				on(pending("st2", "y", 4097, 500), "gone"),
			},
			gone: "gone",
			want: Plan{
				Placements: placed("st1", "b"),
				Unplaced: []Unplaced{
					{SiteID: "st2", Reason: "no ready node has 4097 MiB memory and 500 millicores free (closest: b with 4096 MiB and 4000 millicores free)"},
					{SiteID: "wp", Reason: "WordPress sites move with backups, which are not available yet; the site was lost with node gone"},
				},
			},
		},
		{
			name:  "node still listed as Ready is not a target",
			nodes: []Node{node("gone", 65536, 64000), node("b", 4096, 4000)},
			sites: []Site{on(pending("st", "x", 512, 500), "gone")},
			gone:  "gone",
			want:  Plan{Placements: placed("st", "b")},
		},
		{
			name:  "no other node",
			nodes: []Node{withState(node("gone", 65536, 64000), NotReady)},
			sites: []Site{on(pending("st", "x", 512, 500), "gone"), on(wordpress(pending("wp", "x", 256, 500)), "gone")},
			gone:  "gone",
			want: Plan{Unplaced: []Unplaced{
				{SiteID: "st", Reason: "no ready node: join a node with `berth node join-token`"},
				{SiteID: "wp", Reason: "WordPress sites move with backups, which are not available yet; the site was lost with node gone"},
			}},
		},
		{
			name:  "site of unknown kind stays",
			nodes: []Node{node("b", 4096, 4000)},
			sites: []Site{{ID: "odd", ClientID: "x", MemoryMiB: 1, CPUMillicores: 1, NodeID: "gone"}},
			gone:  "gone",
			want: Plan{Unplaced: []Unplaced{
				{SiteID: "odd", Reason: "sites of kind Kind(0) cannot move; the site was lost with node gone"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evacuate(tt.nodes, tt.sites, tt.gone)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evacuate(%q) mismatch (-want +got):\n%s", tt.gone, diff)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		give fmt.Stringer
		want string
	}{
		{Ready, "ready"}, {NotReady, "not ready"}, {Draining, "draining"}, {NodeState(0), "NodeState(0)"},
		{WordPress, "WordPress"}, {Static, "static"}, {Kind(9), "Kind(9)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
