package reconciler

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/internal/atomicfile"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// The node's shared MariaDB server.
const (
	mariaName     = "berth-mariadb"
	mariaVolume   = "berth-mariadb-data"
	mariaAlias    = "berth-mariadb" // DNS name on every WordPress site's network
	mariaMemory   = 512
	wordpressPort = 8080
	// mariaSecretFile holds the root password, sealed with the agent's key.
	mariaSecretFile = "mariadb-root.secret"
)

// safeSecret is the shape of generated passwords; anything else is refused
// rather than quoted into SQL.
var safeSecret = regexp.MustCompile(`^[A-Za-z0-9]{16,64}$`)

func (r *Reconciler) reconcileWordPress(ctx context.Context, want *berthv1.SiteAssignment) (*berthv1.SiteStatus, error) {
	id := want.GetSiteId()
	dbPassword, adminPassword := want.GetSecrets()["db_password"], want.GetSecrets()["admin_password"]
	if !safeSecret.MatchString(dbPassword) || !safeSecret.MatchString(adminPassword) {
		return nil, terminalf("the site's generated credentials are missing or malformed; recreate the site")
	}
	if _, err := r.o.Runtime.EnsureNetwork(ctx, networkName(id), r.labels(id, "wordpress")); err != nil {
		return nil, err
	}
	if err := r.ensureMariaDB(ctx); err != nil {
		return nil, err
	}
	if err := r.o.Runtime.ConnectNetwork(ctx, networkName(id), mariaName, []string{mariaAlias}); err != nil {
		return nil, err
	}
	if err := r.ensureDatabase(ctx, id, dbPassword); err != nil {
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
	st := &berthv1.SiteStatus{SiteId: id, ObservedGeneration: want.GetGeneration(),
		State: berthv1.SiteState_SITE_STATE_PROVISIONING, Conditions: []*berthv1.Condition{runningCondition(c)}}
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
	st.State = berthv1.SiteState_SITE_STATE_RUNNING
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
		return "", terminalf("cannot decrypt %s with this agent's key: %v", path, err)
	}
	return string(pw), nil
}

// ensureMariaDB runs the node's shared MariaDB server and waits until it
// answers.
func (r *Reconciler) ensureMariaDB(ctx context.Context) error {
	r.mariaMu.Lock()
	defer r.mariaMu.Unlock()
	pw, err := r.rootPassword()
	if err != nil {
		return err
	}
	lbl := map[string]string{LabelManaged: "true", LabelKind: "mariadb"}
	if _, err := r.o.Runtime.EnsureNetwork(ctx, mariaName, lbl); err != nil {
		return err
	}
	if err := r.o.Runtime.EnsureVolume(ctx, mariaVolume, lbl); err != nil {
		return err
	}
	_, err = r.o.Runtime.EnsureContainer(ctx, docker.ContainerSpec{
		Name: mariaName, Image: r.o.Images.MariaDB,
		Env:       []string{"MARIADB_ROOT_PASSWORD=" + pw},
		Labels:    lbl,
		Network:   mariaName,
		Aliases:   []string{mariaAlias},
		MemoryMiB: mariaMemory, CPUMillicores: 1000,
		Mounts:      []docker.Mount{{Type: "volume", Source: mariaVolume, Target: "/var/lib/mysql"}},
		ExposedPort: 3306,
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := r.o.Runtime.Exec(ctx, mariaName, []string{"mariadb-admin", "--user=root", "ping"}, nil, []string{"MYSQL_PWD=" + pw}, "")
		if err == nil && res.ExitCode == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MariaDB is not ready after 60s: %s", firstLine(res.Stderr, res.Stdout))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sql runs statements as root in the shared MariaDB, through exec with an
// argument vector; the password travels in the environment.
func (r *Reconciler) sql(ctx context.Context, statements string) error {
	pw, err := r.rootPassword()
	if err != nil {
		return err
	}
	res, err := r.o.Runtime.Exec(ctx, mariaName, []string{"mariadb", "--user=root", "--batch", "-e", statements}, nil, []string{"MYSQL_PWD=" + pw}, "")
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("mariadb: exit %d: %s", res.ExitCode, firstLine(res.Stderr, res.Stdout))
	}
	return nil
}

// ensureDatabase creates the site's database and a user that may use only it.
func (r *Reconciler) ensureDatabase(ctx context.Context, siteID, password string) error {
	db, user := dbName(siteID), dbUser(siteID)
	return r.sql(ctx, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"+
		" CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s';"+
		" ALTER USER '%s'@'%%' IDENTIFIED BY '%s';"+
		" GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%';", db, user, password, user, password, db, user))
}

// dropDatabase removes the site's database and user, if MariaDB runs here.
func (r *Reconciler) dropDatabase(ctx context.Context, siteID string) error {
	c, err := r.o.Runtime.InspectContainer(ctx, mariaName)
	if errors.Is(err, docker.ErrNotFound) || (err == nil && c.State != "running") {
		return nil
	} else if err != nil {
		return err
	}
	return r.sql(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS `%s`; DROP USER IF EXISTS '%s'@'%%';", dbName(siteID), dbUser(siteID)))
}
