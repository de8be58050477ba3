package agent

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fixaroo/berth/agents/client"
	"github.com/fixaroo/berth/internal/shared/config"
	"github.com/fixaroo/berth/internal/shared/validate"
)

// Image kinds are the keys of Config.Images.
const (
	ImageStatic    = "static"
	ImageWordPress = "wordpress"
	ImageMariaDB   = "mariadb"
)

// maxLabels is how many labels berthd accepts from a node.
const maxLabels = 32

// Config is berth-agent's configuration. LoadConfig fills it from, in
// increasing order of precedence: the defaults, an optional JSON file
// (--config or BERTH_AGENT_CONFIG; unknown keys are errors), BERTH_AGENT_*
// environment variables, and flags. A source that sets Labels replaces the
// labels of the sources before it; Images are merged kind by kind. Each
// field's flag, environment variable and default are declared once, in
// settings below; `berth-agent --help` prints them and the README's table is
// checked against them. A field's JSON key is its tag.
type Config struct {
	// Server is berthd's address: "https://host:port" or "host:port"; the
	// port defaults to 8443. Needed to join; once joined, the address saved
	// at join is used unless Server is set.
	Server string `json:"server"`
	// JoinToken is the one-time token from `berth node join-token`. It is
	// ignored when the node has joined already.
	JoinToken string `json:"join_token"`
	// DataDir holds the node's key and certificates, the CA and the last
	// desired state (encrypted).
	DataDir string `json:"data_dir"`
	// NodeName is the node's unique name in the fleet, sent at join:
	// lowercase letters, digits, dots, underscores and hyphens. Default: the
	// machine's host name, lowercased.
	NodeName string `json:"node_name"`
	// HTTPListen is the edge's plain-HTTP address.
	HTTPListen string `json:"http_listen"`
	// HTTPSListen is the edge's HTTPS address.
	HTTPSListen string `json:"https_listen"`
	// ACMEDirectory is the ACME directory URL for public domains; empty means
	// Let's Encrypt.
	ACMEDirectory string `json:"acme_directory"`
	// ACMEEmail is the ACME account's contact address (optional).
	ACMEEmail string `json:"acme_email"`
	// ACMERoots is a PEM file of extra CAs to trust for the ACME directory
	// (e.g. Pebble's).
	ACMERoots string `json:"acme_roots"`
	// AdvertiseAddress is where peers and berthd reach this node's edge over
	// HTTPS to probe its sites, "host:port". Default: the HTTPS listen
	// address when it names a host, else the node's host name with the
	// HTTPS port.
	AdvertiseAddress string `json:"advertise_address"`
	// ACMEChallenges are the ACME challenge types the edge answers:
	// http-01 (port 80) and tls-alpn-01 (port 443).
	ACMEChallenges []string `json:"acme_challenges"`
	// InternalSuffixes are the domain suffixes whose certificates come from
	// berthd's CA instead of ACME: development names no public CA issues.
	InternalSuffixes []string `json:"internal_suffixes"`
	// MetricsListen is where the agent serves Prometheus metrics (/metrics);
	// empty turns them off (Load turns "off" into empty).
	MetricsListen string `json:"metrics_listen"`
	// Labels describe the node to the scheduler, e.g. {"region": "eu"}: at
	// most 32, keys and values lowercase letters, digits, dots, underscores
	// and hyphens.
	Labels map[string]string `json:"labels"`
	// Images maps a site kind (static, wordpress, mariadb) to the container
	// image that runs it.
	Images map[string]string `json:"images"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// LogFormat is text or json.
	LogFormat string `json:"log_format"`
	// Resync is how often the reconciler checks every site against the
	// engine, repairing drift such as a container removed by hand (changes
	// of the desired state are applied at once).
	Resync Duration `json:"resync"`
}

// settings is berth-agent's settings table, bound to c's fields.
func (c *Config) settings() []config.Setting {
	return []config.Setting{
		{Flag: "server", Env: "BERTH_AGENT_SERVER",
			Help: "berthd address, https://host:port", Value: config.String(&c.Server)},
		{Flag: "join-token", Env: "BERTH_AGENT_JOIN_TOKEN",
			Help: "one-time token from `berth node join-token`; ignored once joined", Value: config.String(&c.JoinToken)},
		{Flag: "data-dir", Env: "BERTH_AGENT_DATA_DIR", Default: "/var/lib/berth-agent",
			Help: "data directory: node key and certificates, desired state", Value: config.String(&c.DataDir)},
		{Flag: "node-name", Env: "BERTH_AGENT_NODE_NAME", Default: hostName(), Show: "host name",
			Help: "the node's unique name", Value: config.String(&c.NodeName)},
		{Flag: "label", Env: "BERTH_AGENT_LABELS",
			Help: "node label key=value for the scheduler; each source replaces the labels before it", Value: config.Pairs(&c.Labels)},
		{Flag: "image", Env: "BERTH_AGENT_IMAGES",
			Default: ImageStatic + "=berth/static:dev," + ImageWordPress + "=berth/wordpress:dev," + ImageMariaDB + "=berth/mariadb:dev",
			Help:    "container image for a kind, e.g. wordpress=wordpress:6; merged kind by kind", Value: config.Pairs(&c.Images).Merged()},
		{Flag: "http-listen", Env: "BERTH_AGENT_HTTP_LISTEN", Default: ":80",
			Help: "edge HTTP address", Value: config.String(&c.HTTPListen)},
		{Flag: "https-listen", Env: "BERTH_AGENT_HTTPS_LISTEN", Default: ":443",
			Help: "edge HTTPS address", Value: config.String(&c.HTTPSListen)},
		{Flag: "acme-directory", Env: "BERTH_AGENT_ACME_DIRECTORY", Show: "Let's Encrypt",
			Help: "ACME directory URL", Value: config.String(&c.ACMEDirectory)},
		{Flag: "acme-email", Env: "BERTH_AGENT_ACME_EMAIL",
			Help: "ACME account e-mail address", Value: config.String(&c.ACMEEmail)},
		{Flag: "acme-roots", Env: "BERTH_AGENT_ACME_ROOTS",
			Help: "PEM file of extra CAs trusted for the ACME directory", Value: config.String(&c.ACMERoots)},
		{Flag: "acme-challenges", Env: "BERTH_AGENT_ACME_CHALLENGES", Default: "http-01,tls-alpn-01",
			Help: "comma-separated ACME challenge types to answer: http-01, tls-alpn-01", Value: config.List(&c.ACMEChallenges)},
		{Flag: "internal-suffixes", Env: "BERTH_AGENT_INTERNAL_SUFFIXES", Default: "localhost,test,internal",
			Help: "comma-separated domain suffixes whose certificates berthd's CA signs", Value: config.List(&c.InternalSuffixes)},
		{Flag: "metrics-listen", Env: "BERTH_AGENT_METRICS_LISTEN", Default: "127.0.0.1:9465",
			Help: "Prometheus metrics address, or off", Value: config.AddrOrOff(&c.MetricsListen, "")},
		{Flag: "advertise-address", Env: "BERTH_AGENT_ADVERTISE_ADDRESS", Show: "the HTTPS listen address, or host name and its port",
			Help: "host:port where peers reach this node's edge over HTTPS", Value: config.String(&c.AdvertiseAddress)},
		{Flag: "resync", Env: "BERTH_AGENT_RESYNC", Default: "30s",
			Help: "how often every site is checked against the engine, repairing drift, at least 1s", Value: config.DurationOf(&c.Resync).AtLeast(time.Second)},
		{Flag: "log-level", Env: "BERTH_AGENT_LOG_LEVEL", Default: "info",
			Help: "debug, info, warn or error", Value: config.Level(&c.LogLevel)},
		{Flag: "log-format", Env: "BERTH_AGENT_LOG_FORMAT", Default: "text",
			Help: "text or json", Value: config.OneOf(&c.LogFormat, "text", "json")},
	}
}

// hostName is the machine's host name, lowercased, or "" if it cannot be
// read.
func hostName() string {
	host, _ := os.Hostname()
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// Duration is a time.Duration written as a Go duration string ("30s") in
// the configuration file.
type Duration = config.Duration

// DefaultConfig returns the configuration used when nothing is set. NodeName
// is the machine's host name, lowercased (empty if it cannot be read).
func DefaultConfig() Config {
	var c Config
	config.Defaults(c.settings())
	return c
}

// LoadConfig builds the configuration from args (without the program name)
// and the environment, and validates it. It returns flag.ErrHelp after
// printing the usage for -h.
func LoadConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var cfg Config
	l := config.Loader{Program: "berth-agent", ConfigEnv: "BERTH_AGENT_CONFIG"}
	if err := l.Load(&cfg, cfg.settings(), args, getenv, stderr); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// Validate reports every setting that cannot work, saying how to fix it.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir: set --data-dir"))
	}
	if c.Server != "" {
		if _, _, err := client.ServerAddress(c.Server); err != nil {
			errs = append(errs, err)
		}
	}
	if c.JoinToken != "" {
		if _, _, err := client.ParseJoinToken(c.JoinToken); err != nil {
			errs = append(errs, err)
		}
		if c.Server == "" {
			errs = append(errs, errors.New("join: set --server to berthd's address (https://host:port) to join with --join-token"))
		}
	}
	if c.NodeName == "" {
		errs = append(errs, errors.New("node name: the host name is not set; set --node-name"))
	} else if err := validate.LabelValue("node name", c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("%w (set --node-name)", err))
	}
	errs = append(errs, c.checkListen()...)
	errs = append(errs, c.checkACME()...)
	if len(c.Labels) > maxLabels {
		errs = append(errs, fmt.Errorf("labels: %d given, at most %d", len(c.Labels), maxLabels))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		if err := validate.LabelValue("label key", k); err != nil {
			errs = append(errs, err)
		} else if err := validate.LabelValue("label "+k, c.Labels[k]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Images)) {
		switch v := c.Images[k]; {
		case k != ImageStatic && k != ImageWordPress && k != ImageMariaDB:
			errs = append(errs, fmt.Errorf("image kind %q: want static, wordpress or mariadb", k))
		case v == "" || strings.ContainsAny(v, " \t\n\r"):
			errs = append(errs, fmt.Errorf("image for %s %q: want an image reference such as wordpress:6", k, v))
		}
	}
	// Log level and format, resync's minimum.
	errs = append(errs, config.Check(c.settings()))
	return errors.Join(errs...)
}

// checkListen reports the listen and advertise addresses that cannot work.
func (c Config) checkListen() []error {
	var errs []error
	for name, addr := range map[string]string{"http listen": c.HTTPListen, "https listen": c.HTTPSListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want host:port such as :443: %w", name, addr, err))
		}
	}
	if !config.IsOff(c.MetricsListen) {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics listen %q: want host:port such as 127.0.0.1:9465, or off: %w", c.MetricsListen, err))
		}
	}
	if c.AdvertiseAddress != "" {
		if host, port, err := net.SplitHostPort(c.AdvertiseAddress); err != nil || host == "" || port == "0" {
			errs = append(errs, fmt.Errorf("advertise address %q: want host:port where peers reach this node's edge", c.AdvertiseAddress))
		}
	}
	return errs
}

// checkACME reports the certificate settings that cannot work.
func (c Config) checkACME() []error {
	var errs []error
	if len(c.ACMEChallenges) == 0 {
		errs = append(errs, errors.New("acme challenges: name at least one of http-01, tls-alpn-01"))
	}
	for _, ch := range c.ACMEChallenges {
		if ch != "http-01" && ch != "tls-alpn-01" {
			errs = append(errs, fmt.Errorf("acme challenge %q: want http-01 or tls-alpn-01", ch))
		}
	}
	for _, sfx := range c.InternalSuffixes {
		if err := validate.DomainSuffix("internal suffix", sfx); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ACMEDirectory != "" {
		if u, err := url.Parse(c.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("acme directory %q: want an https:// URL", c.ACMEDirectory))
		}
	}
	if c.ACMEEmail != "" {
		if _, err := validate.Email("acme email", c.ACMEEmail); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// NewLogger returns the logger the configuration asks for.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	return config.NewLogger(w, c.LogLevel, c.LogFormat)
}

// challenge says whether the edge answers ACME challenges of type typ.
func (c Config) challenge(typ string) bool { return slices.Contains(c.ACMEChallenges, typ) }
