package scheduler

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// naiveSchedule is the placement rule written as plainly as possible:
// recompute every node's free capacity and client count from scratch for
// every site. It is the model Schedule's indexes must agree with.
func naiveSchedule(nodes []Node, sites []Site) (placements []Placement, unplaced []string) {
	var todo []Site
	for _, s := range sites {
		if s.NodeID == "" {
			todo = append(todo, s)
		}
	}
	slices.SortStableFunc(todo, func(a, b Site) int {
		return cmp.Or(cmp.Compare(b.MemoryMiB, a.MemoryMiB), cmp.Compare(a.ID, b.ID))
	})
	all := slices.Clone(sites)
	for _, s := range todo {
		best := -1
		var bestCount int
		var bestFree, bestCap int64
		for i, n := range nodes {
			if n.State != Ready || !matches(n.Labels, s.Selector) {
				continue
			}
			freeMem, freeCPU, count := n.MemoryMiB, n.CPUMillicores, 0
			for _, o := range all {
				if o.NodeID == n.ID {
					freeMem -= o.MemoryMiB
					freeCPU -= o.CPUMillicores
					if o.ClientID == s.ClientID {
						count++
					}
				}
			}
			if freeMem < s.MemoryMiB || freeCPU < s.CPUMillicores {
				continue
			}
			better := best < 0 || count < bestCount
			if !better && count == bestCount {
				// Compare freeMem/cap with bestFree/bestCap without division;
				// the fixtures keep products small.
				l, r := freeMem*bestCap, bestFree*n.MemoryMiB
				better = l > r || (l == r && n.ID < nodes[best].ID)
			}
			if better {
				best, bestCount, bestFree, bestCap = i, count, freeMem, n.MemoryMiB
			}
		}
		if best < 0 {
			unplaced = append(unplaced, s.ID)
			continue
		}
		placements = append(placements, Placement{SiteID: s.ID, NodeID: nodes[best].ID})
		for i := range all {
			if all[i].ID == s.ID {
				all[i].NodeID = nodes[best].ID
			}
		}
	}
	return placements, unplaced
}

func TestScheduleAgreesWithNaiveModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	states := []NodeState{Ready, Ready, Ready, NotReady, Draining}
	for round := range 300 {
		nodeCount := rng.IntN(8)
		nodes := make([]Node, nodeCount)
		for i := range nodes {
			nodes[i] = Node{
				ID:            fmt.Sprintf("n%d", i),
				State:         states[rng.IntN(len(states))],
				MemoryMiB:     int64(1+rng.IntN(4)) * 1024, // few sizes, so ties happen
				CPUMillicores: int64(1+rng.IntN(4)) * 1000,
				Labels:        map[string]string{"zone": fmt.Sprint(rng.IntN(2))},
			}
		}
		var sites []Site
		for i := range rng.IntN(30) {
			s := Site{
				ID:            fmt.Sprintf("s%02d", i),
				ClientID:      fmt.Sprintf("c%d", rng.IntN(3)),
				Kind:          Static,
				MemoryMiB:     int64(rng.IntN(5)) * 128,
				CPUMillicores: int64(rng.IntN(5)) * 200,
			}
			if nodeCount > 0 && rng.IntN(2) == 0 {
				s.NodeID = nodes[rng.IntN(nodeCount)].ID
			}
			if rng.IntN(5) == 0 {
				s.Selector = map[string]string{"zone": fmt.Sprint(rng.IntN(2))}
			}
			sites = append(sites, s)
		}
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })

		wantPlaced, wantUnplaced := naiveSchedule(nodes, sites)
		got := Schedule(nodes, sites)
		var gotUnplaced []string
		for _, u := range got.Unplaced {
			gotUnplaced = append(gotUnplaced, u.SiteID)
		}
		if diff := gocmp.Diff(wantPlaced, got.Placements); diff != "" {
			t.Fatalf("round %d: placements differ from the model (-model +Schedule):\n%s\nnodes: %+v\nsites: %+v", round, diff, nodes, sites)
		}
		if diff := gocmp.Diff(wantUnplaced, gotUnplaced); diff != "" {
			t.Fatalf("round %d: unplaced differ from the model (-model +Schedule):\n%s", round, diff)
		}
	}
}
