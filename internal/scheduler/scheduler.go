package scheduler

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"sort"
)

// Schedule places every pending site (NodeID == "") on a Ready node whose
// free memory and free CPU both fit the site's request and whose labels match
// the site's Selector. Free capacity is the node's capacity minus the requests
// of the sites on it, including the placements this call has already made.
// NotReady and Draining nodes never receive sites.
//
// Sites are taken largest memory request first, then by ID, which packs big
// sites while room remains. Among the nodes that fit, Schedule picks the one
// with the fewest sites of the same client (so one client's sites spread over
// nodes and a node failure hurts fewer of them), then the largest free memory
// fraction (spread load), then the smallest node ID (determinism).
//
// Sites that fit nowhere are Unplaced with a reason that names the request
// and the closest node. Placed sites whose node is not in nodes use no
// capacity.
func Schedule(nodes []Node, sites []Site) Plan {
	return plan(nodes, sites, "", func(s *Site) (bool, string) {
		return s.NodeID == "", ""
	})
}

// Drain plans moving the sites off node nodeID. Static sites are re-placed on
// other Ready nodes exactly as Schedule would place them (they appear in
// Placements; Static sites that fit nowhere are Unplaced with the capacity
// reason). WordPress sites cannot move yet: they are Unplaced with a reason
// saying they keep running on nodeID. The drained node never receives sites,
// whatever its state. Pending sites elsewhere are left alone.
func Drain(nodes []Node, sites []Site, nodeID string) Plan {
	return plan(nodes, sites, nodeID, func(s *Site) (bool, string) {
		if nodeID == "" || s.NodeID != nodeID {
			return false, ""
		}
		return true, cannotMove(s.Kind, fmt.Sprintf("the site keeps running on %s", nodeID))
	})
}

// Evacuate plans for node nodeID being gone for good (deleted): its Static
// sites are re-placed on other Ready nodes where they fit, and its WordPress
// sites are Unplaced (the caller marks them failed). nodeID need not be in
// nodes; if it is, it never receives sites.
func Evacuate(nodes []Node, sites []Site, nodeID string) Plan {
	return plan(nodes, sites, nodeID, func(s *Site) (bool, string) {
		if nodeID == "" || s.NodeID != nodeID {
			return false, ""
		}
		return true, cannotMove(s.Kind, fmt.Sprintf("the site was lost with node %s", nodeID))
	})
}

// cannotMove is the reason a site of kind k stays put, or "" if it can move.
func cannotMove(k Kind, consequence string) string {
	switch k {
	case Static:
		return ""
	case WordPress:
		return "WordPress sites move with backups, which are not available yet; " + consequence
	}
	return fmt.Sprintf("sites of kind %v cannot move; %s", k, consequence)
}

// candidate is a node that may receive sites, with its running free capacity.
type candidate struct {
	id      string
	labels  map[string]string
	capMem  int64
	freeMem int64
	freeCPU int64
}

// fleet is the scheduler's working view of the nodes, built once per call.
type fleet struct {
	cands []candidate
	// clientNodes counts, for each client with a site to place, its sites per
	// candidate (index into cands). Only those clients are indexed.
	clientNodes map[string]map[int32]int32
	// order lists the candidates by rank (see rank), kept sorted as
	// placements consume capacity.
	order []int32
	// count is scratch space: the current client's sites per candidate.
	count []int32
	// notReady and draining count the unusable nodes, for the reason text.
	notReady, draining int
}

// plan is the shared engine. pick says whether a site is to be (re)placed and,
// if it must stay where it is, why. exclude is a node that never receives
// sites ("" for none).
func plan(nodes []Node, sites []Site, exclude string, pick func(*Site) (bool, string)) Plan {
	var todo []int // indices into sites
	clients := make(map[string]map[int32]int32)
	for i := range sites {
		if ok, _ := pick(&sites[i]); ok {
			todo = append(todo, i)
			clients[sites[i].ClientID] = nil
		}
	}
	if len(todo) == 0 {
		return Plan{}
	}
	slices.SortFunc(todo, func(a, b int) int {
		sa, sb := &sites[a], &sites[b]
		if c := cmp.Compare(sb.MemoryMiB, sa.MemoryMiB); c != 0 {
			return c
		}
		if c := cmp.Compare(sa.ID, sb.ID); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})

	f := newFleet(nodes, sites, exclude, clients)
	var p Plan
	for _, i := range todo {
		s := &sites[i]
		if _, reason := pick(s); reason != "" {
			p.Unplaced = append(p.Unplaced, Unplaced{SiteID: s.ID, Reason: reason})
			continue
		}
		if reason := invalidRequest(s); reason != "" {
			p.Unplaced = append(p.Unplaced, Unplaced{SiteID: s.ID, Reason: reason})
			continue
		}
		best := f.place(s)
		if best < 0 {
			p.Unplaced = append(p.Unplaced, Unplaced{SiteID: s.ID, Reason: f.unplacedReason(s)})
			continue
		}
		p.Placements = append(p.Placements, Placement{SiteID: s.ID, NodeID: f.cands[best].id})
	}
	return p
}

func newFleet(nodes []Node, sites []Site, exclude string, clients map[string]map[int32]int32) *fleet {
	f := &fleet{clientNodes: clients}
	index := make(map[string]int32, len(nodes)) // node ID -> candidate, or -1
	for i := range nodes {
		n := &nodes[i]
		if _, dup := index[n.ID]; dup {
			continue
		}
		if n.ID == exclude && exclude != "" {
			index[n.ID] = -1
			continue
		}
		switch n.State {
		case Ready:
			index[n.ID] = int32(len(f.cands))
			f.cands = append(f.cands, candidate{
				id:      n.ID,
				labels:  n.Labels,
				capMem:  n.MemoryMiB,
				freeMem: n.MemoryMiB,
				freeCPU: n.CPUMillicores,
			})
			continue
		case Draining:
			f.draining++
		default:
			f.notReady++
		}
		index[n.ID] = -1
	}
	for i := range sites {
		s := &sites[i]
		if s.NodeID == "" {
			continue
		}
		c, ok := index[s.NodeID]
		if !ok || c < 0 {
			continue
		}
		f.cands[c].freeMem -= s.MemoryMiB
		f.cands[c].freeCPU -= s.CPUMillicores
		if m, ok := f.clientNodes[s.ClientID]; ok {
			if m == nil {
				m = make(map[int32]int32)
				f.clientNodes[s.ClientID] = m
			}
			m[c]++
		}
	}
	f.count = make([]int32, len(f.cands))
	f.order = make([]int32, len(f.cands))
	for i := range f.order {
		f.order[i] = int32(i)
	}
	slices.SortFunc(f.order, f.rank)
	return f
}

// place picks the best candidate for s, charges s to it and returns its
// index, or returns -1 if no candidate fits.
//
// f.order already ranks candidates by free memory fraction, then ID, so the
// best node is the first fitting one with the fewest sites of s's client;
// the scan stops at the first fitting node without any of them, which for
// most sites is near the front.
func (f *fleet) place(s *Site) int {
	perNode := f.clientNodes[s.ClientID]
	for c, n := range perNode {
		f.count[c] = n
	}
	best, bestPos := int32(-1), -1
	for p, c := range f.order {
		n := &f.cands[c]
		if n.freeMem < s.MemoryMiB || n.freeCPU < s.CPUMillicores || !matches(n.labels, s.Selector) {
			continue
		}
		if best < 0 || f.count[c] < f.count[best] {
			best, bestPos = c, p
			if f.count[c] == 0 {
				break
			}
		}
	}
	for c := range perNode {
		f.count[c] = 0
	}
	if best < 0 {
		return -1
	}
	n := &f.cands[best]
	n.freeMem -= s.MemoryMiB
	n.freeCPU -= s.CPUMillicores
	f.sink(bestPos)
	if perNode == nil {
		perNode = make(map[int32]int32)
		f.clientNodes[s.ClientID] = perNode
	}
	perNode[best]++
	return int(best)
}

// sink restores f.order after the candidate at position p lost free memory:
// it can only move towards the back, past the nodes that now rank above it.
func (f *fleet) sink(p int) {
	c := f.order[p]
	rest := f.order[p+1:]
	q := sort.Search(len(rest), func(k int) bool { return f.rank(rest[k], c) > 0 })
	copy(f.order[p:p+q], rest[:q])
	f.order[p+q] = c
}

// rank orders candidates best first: larger free memory fraction, then
// smaller ID. IDs are unique, so the order is total.
func (f *fleet) rank(i, j int32) int {
	a, b := &f.cands[i], &f.cands[j]
	if c := compareFraction(b.freeMem, b.capMem, a.freeMem, a.capMem); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// compareFraction compares free1/cap1 with free2/cap2 exactly. A node
// without capacity, or with none free, has fraction 0.
func compareFraction(free1, cap1, free2, cap2 int64) int {
	if cap1 <= 0 || free1 < 0 {
		free1, cap1 = 0, 1
	}
	if cap2 <= 0 || free2 < 0 {
		free2, cap2 = 0, 1
	}
	// free1/cap1 > free2/cap2  <=>  free1*cap2 > free2*cap1 (caps positive);
	// 128-bit products cannot overflow.
	h1, l1 := bits.Mul64(uint64(free1), uint64(cap2))
	h2, l2 := bits.Mul64(uint64(free2), uint64(cap1))
	if c := cmp.Compare(h1, h2); c != 0 {
		return c
	}
	return cmp.Compare(l1, l2)
}

// matches reports whether labels carry every key and value of selector.
func matches(labels, selector map[string]string) bool {
	if len(selector) == 0 {
		return true
	}
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
