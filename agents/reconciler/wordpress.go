package reconciler

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/agents/terminal"
	"github.com/fixaroo/berth/internal/shared/atomicfile"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// The node's shared MariaDB server.
const (
	mariaAlias    = "berth-mariadb" // DNS name on every WordPress site's network
	mariaMemory   = 512
	wordpressPort = 8080
	// mariaSecretFile holds the root password, sealed with the agent's key.
	mariaSecretFile = "mariadb-root.secret"
	// mariaNamesFile records the names of the node's MariaDB (a mariaDB in
	// JSON), chosen once by chooseMariaDB.
	mariaNamesFile = "mariadb.json"
)

// mariaDB names the node's MariaDB server: its container, its own network
// and its data volume.
type mariaDB struct {
	Container string `json:"container"`
	Network   string `json:"network"`
	Volume    string `json:"volume"`
}

// legacyMariaDBNames are the names every node used before they were per node:
// two agents on one engine shared them, and each other's data with them.
var legacyMariaDBNames = mariaDB{Container: "berth-mariadb", Network: "berth-mariadb", Volume: "berth-mariadb-data"}

// nodeMariaDBNames are the names of node nodeID's MariaDB, such as
// berth-mariadb-node_01jd3m5kq8x7w2c9v4r6t0yzab.
func nodeMariaDBNames(nodeID string) mariaDB {
	n := "berth-mariadb-" + nodeID
	return mariaDB{Container: n, Network: n, Volume: n + "-data"}
}

// legacyMariaDB is what the engine holds under legacyMariaDBNames.
type legacyMariaDB struct {
	volume bool   // the data volume exists, labelled as Berth's MariaDB
	owner  string // LabelNode of the container, if it exists and has one
}

// chooseMariaDB picks the names of node nodeID's MariaDB the first time it
// needs them. A node that already has a root password (rootSecret) and whose
// engine holds the legacy data volume ran its MariaDB under the legacy
// names before the upgrade: it keeps them, and its data, unless the legacy
// container has been claimed by another node already. Every other node
// gets names of its own.
func chooseMariaDB(nodeID string, rootSecret bool, legacy legacyMariaDB) (m mariaDB, adopted bool) {
	if rootSecret && legacy.volume && (legacy.owner == "" || legacy.owner == nodeID) {
		return legacyMariaDBNames, true
	}
	return nodeMariaDBNames(nodeID), false
}

// safeSecret is the shape of generated passwords; anything else is refused
// rather than quoted into SQL.
var safeSecret = regexp.MustCompile(`^[A-Za-z0-9]{16,64}$`)

func (r *Reconciler) reconcileWordPress(ctx context.Context, want *agentv1.SiteAssignment) (*agentv1.SiteStatus, error) {
	id := want.GetSiteId()
	dbPassword, adminPassword := want.GetSecrets()["db_password"], want.GetSecrets()["admin_password"]
	if !safeSecret.MatchString(dbPassword) || !safeSecret.MatchString(adminPassword) {
		return nil, terminal.Errorf("the site's generated credentials are missing or malformed; recreate the site")
	}
	if _, err := r.o.Runtime.EnsureNetwork(ctx, networkName(id), r.labels(id, "wordpress")); err != nil {
		return nil, err
	}
	maria, err := r.ensureMariaDB(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.o.Runtime.ConnectNetwork(ctx, networkName(id), maria.Container, []string{mariaAlias}); err != nil {
		return nil, err
	}
	if err := r.ensureDatabase(ctx, maria, id, dbPassword); err != nil {
		return nil, err
	}
	if err := r.o.Runtime.EnsureVolume(ctx, volumeName(id), r.labels(id, "wordpress")); err != nil {
		return nil, err
	}
	c, err := r.o.Runtime.EnsureContainer(ctx, docker.ContainerSpec{
		Name:  containerName(id),
		Image: r.o.Images.WordPress,
		Env: []string{
			"WORDPRESS_DB_HOST=" + mariaAlias + ":3306",
			"WORDPRESS_DB_USER=" + dbUser(id),
			"WORDPRESS_DB_PASSWORD=" + dbPassword,
			"WORDPRESS_DB_NAME=" + dbName(id),
			"WORDPRESS_TABLE_PREFIX=wp_",
		},
		Labels:        r.labels(id, "wordpress"),
		Network:       networkName(id),
		MemoryMiB:     int64(want.GetResources().GetMemoryMib()),
		CPUMillicores: int64(want.GetResources().GetCpuMillicores()),
		Mounts:        []docker.Mount{{Type: "volume", Source: volumeName(id), Target: "/var/www/html/wp-content"}},
		ExposedPort:   wordpressPort,
	})
	if err != nil {
		return nil, err
	}
	st := &agentv1.SiteStatus{SiteId: id, ObservedGeneration: want.GetGeneration(),
		State: agentv1.SiteState_SITE_STATE_PROVISIONING, Conditions: []*agentv1.Condition{runningCondition(c)}}
	if c.State != "running" {
		return nil, fmt.Errorf("container %s is %s", c.Name, c.State)
	}
	domain := want.GetDomains()[0]
	res, err := r.o.Runtime.Exec(ctx, c.Name, []string{"berth-wp-install",
		"--url", r.siteURL(domain), "--title", want.GetWordpress().GetTitle(),
		"--admin-user", "admin", "--admin-email", want.GetWordpress().GetAdminEmail()},
		strings.NewReader(adminPassword+"\n"), nil, "")
	if err != nil {
		return nil, fmt.Errorf("install WordPress: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("install WordPress: exit %d: %s", res.ExitCode, firstLine(res.Stderr, res.Stdout))
	}
	st.Conditions = append(st.Conditions, cond("Installed", "True", "Installed", "WordPress is installed"))
	ip, err := containerIP(c, networkName(id))
	if err != nil {
		return nil, err
	}
	code, body, err := r.probe(ctx, ip, wordpressPort, domain)
	if err != nil {
		return nil, fmt.Errorf("site does not answer yet: %w", err)
	}
	title := want.GetWordpress().GetTitle()
	if code != 200 || !strings.Contains(body, htmlEscape(title)) {
		return nil, fmt.Errorf("front page answers %d without the site title %q yet", code, title)
	}
	st.State = agentv1.SiteState_SITE_STATE_RUNNING
	st.Conditions = append(st.Conditions, cond("Ready", "True", "Serving", "the front page answers 200 with the site title"))
	r.serving(id, netip.AddrPortFrom(ip, wordpressPort))
	return st, nil
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#8220;", "'", "&#8217;").Replace(s)
}

func firstLine(bufs ...[]byte) string {
	for _, b := range bufs {
		if s := strings.TrimSpace(string(b)); s != "" {
			line, _, _ := strings.Cut(s, "\n")
			return line
		}
	}
	return "no output"
}

// Database and user names come from the validated site id ([a-z0-9_]).
func dbName(siteID string) string { return "wp_" + siteID }
func dbUser(siteID string) string { return "u_" + strings.TrimPrefix(siteID, "site_") }

// rootPassword returns the MariaDB root password, creating it on first use.
func (r *Reconciler) rootPassword() (string, error) {
	path := filepath.Join(r.o.DataDir, mariaSecretFile)
	sealed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		pw := rand.Text()
		if err := atomicfile.Write(path, r.o.Box.Seal([]byte(pw), []byte(mariaSecretFile)), 0o600); err != nil {
			return "", err
		}
		return pw, nil
	} else if err != nil {
		return "", fmt.Errorf("read MariaDB root password: %w", err)
	}
	pw, err := r.o.Box.Open(sealed, []byte(mariaSecretFile))
	if err != nil {
		return "", terminal.Errorf("cannot decrypt %s with this agent's key: %v", path, err)
	}
	return string(pw), nil
}

// mariaDB returns the names of the node's MariaDB, choosing and recording
// them on first use. The choice is kept in the data directory, so that it is
// made once per node, before the root password exists for a new node.
func (r *Reconciler) mariaDB(ctx context.Context) (mariaDB, error) {
	r.namesMu.Lock()
	defer r.namesMu.Unlock()
	if r.maria != nil {
		return *r.maria, nil
	}
	if r.o.NodeID == "" {
		return mariaDB{}, terminal.Errorf("this reconciler has no node id, which WordPress sites need to tell the node's MariaDB from others on the engine")
	}
	path := filepath.Join(r.o.DataDir, mariaNamesFile)
	b, err := os.ReadFile(path)
	if err == nil {
		var m mariaDB
		if err := json.Unmarshal(b, &m); err != nil {
			return mariaDB{}, terminal.Errorf("%s is damaged: %v; restore it, or write the names of the node's MariaDB container, network and volume into it", path, err)
		}
		if m.Container == "" || m.Network == "" || m.Volume == "" {
			return mariaDB{}, terminal.Errorf("%s must name the node's MariaDB container, network and volume; it holds %s", path, b)
		}
		r.maria = &m
		return m, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return mariaDB{}, fmt.Errorf("read MariaDB names: %w", err)
	}
	rootSecret := true
	if _, err := os.Stat(filepath.Join(r.o.DataDir, mariaSecretFile)); errors.Is(err, os.ErrNotExist) {
		rootSecret = false
	} else if err != nil {
		return mariaDB{}, fmt.Errorf("read MariaDB root password: %w", err)
	}
	var legacy legacyMariaDB
	if rootSecret {
		if legacy, err = r.inspectLegacyMariaDB(ctx, legacyMariaDBNames); err != nil {
			return mariaDB{}, err
		}
	}
	m, adopted := chooseMariaDB(r.o.NodeID, rootSecret, legacy)
	b, err = json.Marshal(m)
	if err != nil {
		return mariaDB{}, err
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return mariaDB{}, err
	}
	r.log.Info("MariaDB names chosen", "container", m.Container, "volume", m.Volume, "legacy", adopted)
	r.maria = &m
	return m, nil
}

// inspectLegacyMariaDB reports what the engine holds under the legacy names
// (legacyMariaDBNames; tests pass their own). Legacy volumes carry only the
// managed and kind labels.
func (r *Reconciler) inspectLegacyMariaDB(ctx context.Context, names mariaDB) (legacyMariaDB, error) {
	var l legacyMariaDB
	vols, err := r.o.Runtime.ListVolumes(ctx, map[string]string{LabelManaged: "true", LabelKind: "mariadb"})
	if err != nil {
		return l, err
	}
	l.volume = slices.Contains(vols, names.Volume)
	c, err := r.o.Runtime.InspectContainer(ctx, names.Container)
	if err != nil && !errors.Is(err, docker.ErrNotFound) {
		return l, err
	}
	l.owner = c.Labels[LabelNode]
	return l, nil
}

// ensureMariaDB runs the node's shared MariaDB server, waits until it
// answers and returns its names.
func (r *Reconciler) ensureMariaDB(ctx context.Context) (mariaDB, error) {
	r.mariaMu.Lock()
	defer r.mariaMu.Unlock()
	// The names first: a new node's choice depends on having no root
	// password yet.
	m, err := r.mariaDB(ctx)
	if err != nil {
		return m, err
	}
	pw, err := r.rootPassword()
	if err != nil {
		return m, err
	}
	lbl := r.labels("", "mariadb")
	if _, err := r.o.Runtime.EnsureNetwork(ctx, m.Network, lbl); err != nil {
		return m, err
	}
	if err := r.o.Runtime.EnsureVolume(ctx, m.Volume, lbl); err != nil {
		return m, err
	}
	_, err = r.o.Runtime.EnsureContainer(ctx, docker.ContainerSpec{
		Name: m.Container, Image: r.o.Images.MariaDB,
		Env:       []string{"MARIADB_ROOT_PASSWORD=" + pw},
		Labels:    lbl,
		Network:   m.Network,
		Aliases:   []string{mariaAlias},
		MemoryMiB: mariaMemory, CPUMillicores: 1000,
		Mounts:      []docker.Mount{{Type: "volume", Source: m.Volume, Target: "/var/lib/mysql"}},
		ExposedPort: 3306,
	})
	if err != nil {
		return m, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := r.o.Runtime.Exec(ctx, m.Container, []string{"mariadb-admin", "--user=root", "ping"}, nil, []string{"MYSQL_PWD=" + pw}, "")
		if err == nil && res.ExitCode == 0 {
			return m, nil
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("MariaDB is not ready after 60s: %s", firstLine(res.Stderr, res.Stdout))
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sql runs statements as root in the node's MariaDB, through exec with an
// argument vector; the password travels in the environment.
func (r *Reconciler) sql(ctx context.Context, maria mariaDB, statements string) error {
	pw, err := r.rootPassword()
	if err != nil {
		return err
	}
	res, err := r.o.Runtime.Exec(ctx, maria.Container, []string{"mariadb", "--user=root", "--batch", "-e", statements}, nil, []string{"MYSQL_PWD=" + pw}, "")
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("mariadb: exit %d: %s", res.ExitCode, firstLine(res.Stderr, res.Stdout))
	}
	return nil
}

// ensureDatabase creates the site's database and a user that may use only it.
func (r *Reconciler) ensureDatabase(ctx context.Context, maria mariaDB, siteID, password string) error {
	db, user := dbName(siteID), dbUser(siteID)
	return r.sql(ctx, maria, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"+
		" CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s';"+
		" ALTER USER '%s'@'%%' IDENTIFIED BY '%s';"+
		" GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%';", db, user, password, user, password, db, user))
}

// dropDatabase removes the site's database and user, if the node's MariaDB
// runs here.
func (r *Reconciler) dropDatabase(ctx context.Context, siteID string) error {
	if r.o.NodeID == "" {
		return nil // no MariaDB can be this node's (see mariaDB)
	}
	maria, err := r.mariaDB(ctx)
	if err != nil {
		return err
	}
	c, err := r.o.Runtime.InspectContainer(ctx, maria.Container)
	if errors.Is(err, docker.ErrNotFound) || (err == nil && c.State != "running") {
		return nil
	} else if err != nil {
		return err
	}
	return r.sql(ctx, maria, fmt.Sprintf("DROP DATABASE IF EXISTS `%s`; DROP USER IF EXISTS '%s'@'%%';", dbName(siteID), dbUser(siteID)))
}
