// Package scheduler decides where sites run: it places pending sites on ready
// nodes, plans moving sites off a draining node, and plans what happens to the
// sites of a node that is gone for good.
//
// The package is pure. It reads no store, does no I/O and never asks for the
// time; given the same nodes and sites it returns the same Plan, whatever the
// order of its inputs. The caller loads the fleet, calls Schedule, Drain or
// Evacuate, and writes the Plan back (assigning nodes, or reporting the
// Unplaced reasons to the user). Inputs are never modified.
//
// Placement in one sentence: take pending sites largest first, and put each on
// the ready node that fits it and holds the fewest sites of the same client,
// preferring the node with the most free memory fraction, then the smallest
// node ID. README.md has the diagram, the rules and a glossary.
//
// Costs: one call indexes the placed sites once, O(sites), and keeps the
// ready nodes ranked by free memory fraction. Each pending site then scans
// that ranking until the first fitting node without a site of its client, so
// a placement costs O(nodes) at worst and usually far less, never O(sites).
package scheduler
