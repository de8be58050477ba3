package scheduler

import "fmt"

// NodeState is whether a node takes new sites. The zero value is not a
// state: a node whose state was never set is never given sites.
type NodeState int

// Node states. Only Ready nodes receive sites.
const (
	// Ready: heartbeating and accepting sites.
	Ready NodeState = iota + 1
	// NotReady: missed heartbeats; takes no new sites.
	NotReady
	// Draining: keeps serving its sites, takes no new ones, sites move off.
	Draining
)

// String returns the state as a user would write it.
func (s NodeState) String() string {
	switch s {
	case Ready:
		return "ready"
	case NotReady:
		return "not ready"
	case Draining:
		return "draining"
	}
	return fmt.Sprintf("NodeState(%d)", int(s))
}

// Kind is what runs a site. The zero value is not a kind.
type Kind int

// Site kinds.
const (
	// WordPress sites carry a database and a wp-content volume; they cannot
	// move between nodes until backups exist.
	WordPress Kind = iota + 1
	// Static sites serve released files and can be re-placed freely.
	Static
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case WordPress:
		return "WordPress"
	case Static:
		return "static"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Node is a machine that can run sites, with its total capacity. Node IDs
// are unique; if one repeats, the first node with that ID counts and the
// others are ignored.
type Node struct {
	ID            string
	State         NodeState
	MemoryMiB     int64 // total memory sites may request
	CPUMillicores int64 // total CPU sites may request
	Labels        map[string]string
}

// Site is one site's request. NodeID is where it runs now; "" means pending
// (not placed yet).
type Site struct {
	ID            string
	ClientID      string
	Kind          Kind
	MemoryMiB     int64
	CPUMillicores int64
	NodeID        string
	// Selector lists node labels the site requires, key and value exactly.
	// Nil or empty matches every node.
	Selector map[string]string
}

// Placement assigns a site to a node.
type Placement struct {
	SiteID string
	NodeID string
}

// Unplaced is a site the plan could not place, with a user-facing reason
// that says what the site needs and what came closest.
type Unplaced struct {
	SiteID string
	Reason string
}

// Plan is the outcome of one scheduler call. Both lists are in the order the
// sites were considered (largest memory request first, then site ID) and are
// nil when empty.
type Plan struct {
	Placements []Placement
	Unplaced   []Unplaced
}
