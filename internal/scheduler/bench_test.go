package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchFleet builds a fleet of nodes of varied sizes, placed sites spread
// over clients, and pending sites, all from a fixed seed.
func benchFleet(nodeCount, placedCount, clientCount, pendingCount int) ([]Node, []Site) {
	rng := rand.New(rand.NewPCG(1, 2))
	mems := []int64{8192, 16384, 32768, 65536}
	cpus := []int64{4000, 8000, 16000, 32000}
	regions := []string{"eu", "us", "ap"}
	nodes := make([]Node, nodeCount)
	for i := range nodes {
		size := rng.IntN(len(mems))
		state := Ready
		switch i % 50 {
		case 0:
			state = Draining
		case 1:
			state = NotReady
		}
		nodes[i] = Node{
			ID:            fmt.Sprintf("node-%05d", i),
			State:         state,
			MemoryMiB:     mems[size],
			CPUMillicores: cpus[size],
			Labels:        map[string]string{"region": regions[i%len(regions)]},
		}
	}
	siteMems := []int64{64, 128, 256, 512}
	siteCPUs := []int64{50, 100, 250, 500}
	sites := make([]Site, 0, placedCount+pendingCount)
	for i := range placedCount {
		size := rng.IntN(len(siteMems))
		kind := Static
		if i%3 == 0 {
			kind = WordPress
		}
		sites = append(sites, Site{
			ID:            fmt.Sprintf("site-%06d", i),
			ClientID:      fmt.Sprintf("client-%04d", rng.IntN(clientCount)),
			Kind:          kind,
			MemoryMiB:     siteMems[size],
			CPUMillicores: siteCPUs[size],
			NodeID:        nodes[rng.IntN(nodeCount)].ID,
		})
	}
	for i := range pendingCount {
		size := rng.IntN(len(siteMems))
		s := Site{
			ID:            fmt.Sprintf("pending-%05d", i),
			ClientID:      fmt.Sprintf("client-%04d", rng.IntN(clientCount)),
			Kind:          Static,
			MemoryMiB:     siteMems[size] * 2,
			CPUMillicores: siteCPUs[size],
		}
		if i%10 == 0 {
			s.Selector = map[string]string{"region": regions[rng.IntN(len(regions))]}
		}
		sites = append(sites, s)
	}
	return nodes, sites
}

func BenchmarkSchedule5000Nodes(b *testing.B) {
	const pending = 1000
	nodes, sites := benchFleet(5000, 50000, 2000, pending)
	if p := Schedule(nodes, sites); len(p.Placements) != pending {
		b.Fatalf("placed %d of %d pending sites; unplaced: %v", len(p.Placements), pending, p.Unplaced)
	}
	b.ReportAllocs()
	for b.Loop() {
		Schedule(nodes, sites)
	}
	b.ReportMetric(float64(pending*b.N)/b.Elapsed().Seconds(), "placements/s")
}

func BenchmarkDrain5000Nodes(b *testing.B) {
	nodes, sites := benchFleet(5000, 50000, 2000, 0)
	drained := nodes[0].ID // a Draining node in benchFleet
	moving := 0
	for _, s := range sites {
		if s.NodeID == drained && s.Kind == Static {
			moving++
		}
	}
	if p := Drain(nodes, sites, drained); len(p.Placements) != moving || moving == 0 {
		b.Fatalf("moved %d of %d static sites", len(p.Placements), moving)
	}
	b.ReportAllocs()
	for b.Loop() {
		Drain(nodes, sites, drained)
	}
}
