package scheduler

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The reasons below are shown to users as they are: each says what the site
// needs and, where there is one, which node came closest, so the fix (a bigger
// node, a smaller request, a label) is obvious.

// noReadyNode is the reason when no node can take sites at all.
const noReadyNode = "no ready node: join a node with `berth node join-token`"

// invalidRequest is the reason a site's request cannot be scheduled, or "".
func invalidRequest(s *Site) string {
	switch {
	case s.MemoryMiB < 0:
		return fmt.Sprintf("the site requests %d MiB memory; a request cannot be negative", s.MemoryMiB)
	case s.CPUMillicores < 0:
		return fmt.Sprintf("the site requests %d millicores; a request cannot be negative", s.CPUMillicores)
	}
	return ""
}

// unplacedReason explains why no candidate fits s. It runs only for sites
// that failed, so it may rescan the candidates.
func (f *fleet) unplacedReason(s *Site) string {
	if len(f.cands) == 0 {
		if f.notReady == 0 && f.draining == 0 {
			return noReadyNode
		}
		return fmt.Sprintf("no ready node (%d not ready, %d draining): join a node with `berth node join-token`", f.notReady, f.draining)
	}

	where := "no ready node"
	if len(s.Selector) > 0 {
		where = "no ready node with labels " + formatLabels(s.Selector)
	}
	// The closest node is the matching one that could hold the largest
	// share of the request in its scarcer resource; ties go to the smaller ID.
	closest, closestCover := -1, math.Inf(-1)
	for i := range f.cands {
		n := &f.cands[i]
		if !matches(n.labels, s.Selector) {
			continue
		}
		cover := math.Min(share(n.freeMem, s.MemoryMiB), share(n.freeCPU, s.CPUMillicores))
		if closest < 0 || cover > closestCover || (cover == closestCover && n.id < f.cands[closest].id) {
			closest, closestCover = i, cover
		}
	}
	if closest < 0 {
		return fmt.Sprintf("%s: add the labels to a node or change the site's selector", where)
	}
	n := &f.cands[closest]
	return fmt.Sprintf("%s has %d MiB memory and %d millicores free (closest: %s with %d MiB and %d millicores free)",
		where, s.MemoryMiB, s.CPUMillicores, n.id, max(n.freeMem, 0), max(n.freeCPU, 0))
}

// share is how much of need the free amount covers; +Inf when nothing is needed.
func share(free, need int64) float64 {
	if need <= 0 {
		return math.Inf(1)
	}
	return float64(free) / float64(need)
}

// formatLabels renders a selector as sorted k=v pairs joined by commas.
func formatLabels(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}
