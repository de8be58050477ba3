package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/fixaroo/berth/internal/store"
)

const nodeCols = `id, name, state, memory_mib, cpu_millicores, disk_mib, labels,
	agent_version, docker_version, last_heartbeat_time, create_time, edge_address`

func scanNode(sc scanner) (*store.Node, error) {
	n := new(store.Node)
	err := sc.Scan(&n.ID, &n.Name, &n.State, &n.MemoryMiB, &n.CPUMillicores, &n.DiskMiB, jsonCol{&n.Labels},
		&n.AgentVersion, &n.DockerVersion, timeCol{&n.LastHeartbeatTime}, timeCol{&n.CreateTime}, strCol{&n.EdgeAddress})
	return n, err
}

func (r *readTx) GetNode(id string) (*store.Node, error) {
	n, err := get(r, scanNode, `SELECT `+nodeCols+` FROM nodes WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("node %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get node %s: %w", id, err)
	}
	return n, nil
}

func (r *readTx) ListNodes(p store.Page) ([]*store.Node, error) {
	ns, err := list(r, scanNode,
		`SELECT `+nodeCols+` FROM nodes WHERE id > ? ORDER BY id LIMIT ?`, p.After, pageLimit(p))
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return ns, nil
}

func nodeConflict(n *store.Node, err error) error {
	switch cols, _ := uniqueViolation(err); cols {
	case "nodes.name":
		return conflict("a node named %q already exists", n.Name)
	case "nodes.id":
		return conflict("node %q already exists", n.ID)
	}
	return err
}

func (w *writeTx) CreateNode(n *store.Node) error {
	_, err := w.exec(`INSERT INTO nodes (`+nodeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.Name, string(n.State), n.MemoryMiB, n.CPUMillicores, n.DiskMiB, jsonArg{n.Labels},
		n.AgentVersion, n.DockerVersion, timeArg(n.LastHeartbeatTime), timeArg(n.CreateTime), strArg(n.EdgeAddress))
	return wrap("create node", nodeConflict(n, err))
}

func (w *writeTx) UpdateNode(n *store.Node) error {
	err := w.execOne(`UPDATE nodes SET (name, state, memory_mib, cpu_millicores, disk_mib, labels,
		agent_version, docker_version, last_heartbeat_time, edge_address) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ?`,
		n.Name, string(n.State), n.MemoryMiB, n.CPUMillicores, n.DiskMiB, jsonArg{n.Labels},
		n.AgentVersion, n.DockerVersion, timeArg(n.LastHeartbeatTime), strArg(n.EdgeAddress), n.ID)
	if errors.Is(err, errNoRow) {
		return notFound("node %q", n.ID)
	}
	return wrap("update node", nodeConflict(n, err))
}

// DeleteNode deletes a node. Sites placed on it keep its id in NodeID; the
// scheduler re-places them.
func (w *writeTx) DeleteNode(id string) error {
	err := w.execOne(`DELETE FROM nodes WHERE id = ?`, id)
	if errors.Is(err, errNoRow) {
		return notFound("node %q", id)
	}
	return wrap("delete node "+id, err)
}
