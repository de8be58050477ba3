package agent

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
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

	"github.com/fixaroo/berth/internal/validate"
)

// Image kinds are the keys of Config.Images.
const (
	ImageStatic    = "static"
	ImageWordPress = "wordpress"
	ImageMariaDB   = "mariadb"
)

// joinTokenPrefix starts every join token; see parseJoinToken.
const joinTokenPrefix = "berthjoin_"

// maxLabels is how many labels berthd accepts from a node.
const maxLabels = 32

// Config is berth-agent's configuration. LoadConfig fills it from, in
// increasing order of precedence: the defaults below, an optional JSON file
// (--config or BERTH_AGENT_CONFIG; unknown keys are errors), BERTH_AGENT_*
// environment variables, and flags. A source that sets Labels replaces the
// labels of the sources before it; Images are merged kind by kind.
type Config struct {
	// Server is berthd's address: "https://host:port" or "host:port"; the
	// port defaults to 8443. Needed to join; once joined, the address saved
	// at join is used unless Server is set. Flag --server, env BERTH_AGENT_SERVER.
	Server string `json:"server"`
	// JoinToken is the one-time token from `berth node join-token`. It is
	// ignored when the node has joined already. Flag --join-token, env
	// BERTH_AGENT_JOIN_TOKEN.
	JoinToken string `json:"join_token"`
	// DataDir holds the node's key and certificates, the CA and the last
	// desired state (encrypted). Default "/var/lib/berth-agent". Flag
	// --data-dir, env BERTH_AGENT_DATA_DIR.
	DataDir string `json:"data_dir"`
	// NodeName is the node's unique name in the fleet, sent at join:
	// lowercase letters, digits, dots, underscores and hyphens. Default: the
	// machine's host name, lowercased. Flag --node-name, env BERTH_AGENT_NODE_NAME.
	NodeName string `json:"node_name"`
	// HTTPListen is the edge's plain-HTTP address. Default ":80". Flag
	// --http-listen, env BERTH_AGENT_HTTP_LISTEN.
	HTTPListen string `json:"http_listen"`
	// HTTPSListen is the edge's HTTPS address. Default ":443". Flag
	// --https-listen, env BERTH_AGENT_HTTPS_LISTEN.
	HTTPSListen string `json:"https_listen"`
	// ACMEDirectory is the ACME directory URL for public domains; empty means
	// Let's Encrypt. Flag --acme-directory, env BERTH_AGENT_ACME_DIRECTORY.
	ACMEDirectory string `json:"acme_directory"`
	// ACMEEmail is the ACME account's contact address (optional). Flag
	// --acme-email, env BERTH_AGENT_ACME_EMAIL.
	ACMEEmail string `json:"acme_email"`
	// ACMERoots is a PEM file of extra CAs to trust for the ACME directory
	// (e.g. Pebble's). Flag --acme-roots, env BERTH_AGENT_ACME_ROOTS.
	ACMERoots string `json:"acme_roots"`
	// AdvertiseAddress is where peers and berthd reach this node's edge over
	// HTTPS to probe its sites, "host:port". Default: the HTTPS listen
	// address when it names a host, else the node's host name with the
	// HTTPS port. Flag --advertise-address, env BERTH_AGENT_ADVERTISE_ADDRESS.
	AdvertiseAddress string `json:"advertise_address"`
	// ACMEChallenges are the ACME challenge types the edge answers:
	// http-01 (port 80) and tls-alpn-01 (port 443). Default both. Flag
	// --acme-challenges, env BERTH_AGENT_ACME_CHALLENGES ("tls-alpn-01").
	ACMEChallenges []string `json:"acme_challenges"`
	// InternalSuffixes are the domain suffixes whose certificates come from
	// berthd's CA instead of ACME: development names no public CA issues.
	// Default ["localhost", "test", "internal"]. Flag --internal-suffixes,
	// env BERTH_AGENT_INTERNAL_SUFFIXES ("localhost,test").
	InternalSuffixes []string `json:"internal_suffixes"`
	// MetricsListen is where the agent serves Prometheus metrics (/metrics);
	// empty turns them off. Default "127.0.0.1:9465". Flag --metrics-listen,
	// env BERTH_AGENT_METRICS_LISTEN.
	MetricsListen string `json:"metrics_listen"`
	// Labels describe the node to the scheduler, e.g. {"region": "eu"}: at
	// most 32, keys and values lowercase letters, digits, dots, underscores
	// and hyphens. Flag --label k=v (repeatable), env BERTH_AGENT_LABELS
	// ("k=v,k2=v2").
	Labels map[string]string `json:"labels"`
	// Images maps a site kind (static, wordpress, mariadb) to the container
	// image that runs it. Defaults berth/static:dev, berth/wordpress:dev,
	// berth/mariadb:dev. Flag --image kind=ref (repeatable), env
	// BERTH_AGENT_IMAGES ("kind=ref,kind2=ref2").
	Images map[string]string `json:"images"`
	// LogLevel is debug, info, warn or error. Default "info". Flag
	// --log-level, env BERTH_AGENT_LOG_LEVEL.
	LogLevel string `json:"log_level"`
	// LogFormat is text or json. Default "text". Flag --log-format, env
	// BERTH_AGENT_LOG_FORMAT.
	LogFormat string `json:"log_format"`
	// Resync is how often the reconciler checks every site against the
	// engine, repairing drift such as a container removed by hand (changes
	// of the desired state are applied at once). Default "30s", at least
	// "1s". Flag --resync, env BERTH_AGENT_RESYNC.
	Resync Duration `json:"resync"`
}

// Duration is a time.Duration written as a Go duration string ("30s") in
// the configuration file.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig returns the configuration used when nothing is set. NodeName
// is the machine's host name, lowercased (empty if it cannot be read).
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		DataDir:          "/var/lib/berth-agent",
		NodeName:         strings.ToLower(strings.TrimSuffix(host, ".")),
		HTTPListen:       ":80",
		HTTPSListen:      ":443",
		InternalSuffixes: []string{"localhost", "test", "internal"},
		ACMEChallenges:   []string{"http-01", "tls-alpn-01"},
		MetricsListen:    "127.0.0.1:9465",
		Images: map[string]string{
			ImageStatic:    "berth/static:dev",
			ImageWordPress: "berth/wordpress:dev",
			ImageMariaDB:   "berth/mariadb:dev",
		},
		LogLevel:  "info",
		LogFormat: "text",
		Resync:    Duration(30 * time.Second),
	}
}

// LoadConfig builds the configuration from args (without the program name)
// and the environment, and validates it. It returns flag.ErrHelp after
// printing the usage for -h.
func LoadConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("berth-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("BERTH_AGENT_CONFIG"), "JSON configuration file (env BERTH_AGENT_CONFIG)")
	var f Config
	var labels, images pairList
	var suffixes, challenges, resync string
	fs.StringVar(&f.Server, "server", "", "berthd address, https://host:port (env BERTH_AGENT_SERVER)")
	fs.StringVar(&f.JoinToken, "join-token", "", "one-time token from `berth node join-token`; ignored once joined (env BERTH_AGENT_JOIN_TOKEN)")
	fs.StringVar(&f.DataDir, "data-dir", "", "data directory: node key and certificates, desired state (default "+cfg.DataDir+"; env BERTH_AGENT_DATA_DIR)")
	fs.StringVar(&f.NodeName, "node-name", "", "the node's unique name (default: the host name; env BERTH_AGENT_NODE_NAME)")
	fs.StringVar(&f.HTTPListen, "http-listen", "", "edge HTTP address (default "+cfg.HTTPListen+"; env BERTH_AGENT_HTTP_LISTEN)")
	fs.StringVar(&f.HTTPSListen, "https-listen", "", "edge HTTPS address (default "+cfg.HTTPSListen+"; env BERTH_AGENT_HTTPS_LISTEN)")
	fs.StringVar(&f.ACMEDirectory, "acme-directory", "", "ACME directory URL (default Let's Encrypt; env BERTH_AGENT_ACME_DIRECTORY)")
	fs.StringVar(&f.ACMEEmail, "acme-email", "", "ACME account e-mail address (env BERTH_AGENT_ACME_EMAIL)")
	fs.StringVar(&f.ACMERoots, "acme-roots", "", "PEM file of extra CAs trusted for the ACME directory (env BERTH_AGENT_ACME_ROOTS)")
	fs.StringVar(&f.AdvertiseAddress, "advertise-address", "", "host:port where peers reach this node's edge over HTTPS (default: the HTTPS listen address, or host name and its port; env BERTH_AGENT_ADVERTISE_ADDRESS)")
	fs.StringVar(&challenges, "acme-challenges", "", "comma-separated ACME challenge types to answer: http-01, tls-alpn-01 (default both; env BERTH_AGENT_ACME_CHALLENGES)")
	fs.StringVar(&suffixes, "internal-suffixes", "", "comma-separated domain suffixes whose certificates berthd's CA signs (default localhost,test,internal; env BERTH_AGENT_INTERNAL_SUFFIXES)")
	fs.StringVar(&f.MetricsListen, "metrics-listen", "", "Prometheus metrics address, empty for none (default "+cfg.MetricsListen+"; env BERTH_AGENT_METRICS_LISTEN)")
	fs.Var(&labels, "label", "node label key=value for the scheduler; repeatable (env BERTH_AGENT_LABELS)")
	fs.Var(&images, "image", "container image for a kind, e.g. wordpress=wordpress:6; repeatable (env BERTH_AGENT_IMAGES)")
	fs.StringVar(&f.LogLevel, "log-level", "", "debug, info, warn or error (default info; env BERTH_AGENT_LOG_LEVEL)")
	fs.StringVar(&f.LogFormat, "log-format", "", "text or json (default text; env BERTH_AGENT_LOG_FORMAT)")
	fs.StringVar(&resync, "resync", "", "how often every site is checked against the engine, repairing drift (default 30s; env BERTH_AGENT_RESYNC)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: berth-agent takes only flags", fs.Arg(0))
	}

	if *configPath != "" {
		b, err := os.ReadFile(*configPath)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		defaultImages := cfg.Images
		cfg.Images = nil
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", *configPath, err)
		}
		cfg.Images = mergeMaps(defaultImages, cfg.Images)
	}

	env := map[string]*string{
		"BERTH_AGENT_SERVER": &cfg.Server, "BERTH_AGENT_JOIN_TOKEN": &cfg.JoinToken,
		"BERTH_AGENT_DATA_DIR": &cfg.DataDir, "BERTH_AGENT_NODE_NAME": &cfg.NodeName,
		"BERTH_AGENT_HTTP_LISTEN": &cfg.HTTPListen, "BERTH_AGENT_HTTPS_LISTEN": &cfg.HTTPSListen,
		"BERTH_AGENT_ACME_DIRECTORY": &cfg.ACMEDirectory, "BERTH_AGENT_ACME_EMAIL": &cfg.ACMEEmail,
		"BERTH_AGENT_ACME_ROOTS": &cfg.ACMERoots, "BERTH_AGENT_LOG_LEVEL": &cfg.LogLevel,
		"BERTH_AGENT_LOG_FORMAT": &cfg.LogFormat, "BERTH_AGENT_METRICS_LISTEN": &cfg.MetricsListen,
		"BERTH_AGENT_ADVERTISE_ADDRESS": &cfg.AdvertiseAddress,
	}
	for k, p := range env {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if v := getenv("BERTH_AGENT_ACME_CHALLENGES"); v != "" {
		cfg.ACMEChallenges = splitList(v)
	}
	if v := getenv("BERTH_AGENT_INTERNAL_SUFFIXES"); v != "" {
		cfg.InternalSuffixes = splitList(v)
	}
	if v := getenv("BERTH_AGENT_RESYNC"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("BERTH_AGENT_RESYNC %q: want a duration such as 30s: %w", v, err)
		}
		cfg.Resync = Duration(d)
	}
	if v := getenv("BERTH_AGENT_LABELS"); v != "" {
		m, err := parsePairs("BERTH_AGENT_LABELS", strings.Split(v, ","))
		if err != nil {
			return Config{}, err
		}
		cfg.Labels = m
	}
	if v := getenv("BERTH_AGENT_IMAGES"); v != "" {
		m, err := parsePairs("BERTH_AGENT_IMAGES", strings.Split(v, ","))
		if err != nil {
			return Config{}, err
		}
		cfg.Images = mergeMaps(cfg.Images, m)
	}

	var flagErr error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "server":
			cfg.Server = f.Server
		case "join-token":
			cfg.JoinToken = f.JoinToken
		case "data-dir":
			cfg.DataDir = f.DataDir
		case "node-name":
			cfg.NodeName = f.NodeName
		case "http-listen":
			cfg.HTTPListen = f.HTTPListen
		case "https-listen":
			cfg.HTTPSListen = f.HTTPSListen
		case "acme-directory":
			cfg.ACMEDirectory = f.ACMEDirectory
		case "acme-email":
			cfg.ACMEEmail = f.ACMEEmail
		case "acme-roots":
			cfg.ACMERoots = f.ACMERoots
		case "advertise-address":
			cfg.AdvertiseAddress = f.AdvertiseAddress
		case "acme-challenges":
			cfg.ACMEChallenges = splitList(challenges)
		case "internal-suffixes":
			cfg.InternalSuffixes = splitList(suffixes)
		case "metrics-listen":
			cfg.MetricsListen = f.MetricsListen
		case "log-level":
			cfg.LogLevel = f.LogLevel
		case "log-format":
			cfg.LogFormat = f.LogFormat
		case "resync":
			d, err := time.ParseDuration(resync)
			if err != nil {
				err = fmt.Errorf("--resync %q: want a duration such as 30s: %w", resync, err)
			}
			flagErr = errors.Join(flagErr, err)
			cfg.Resync = Duration(d)
		case "label":
			m, err := parsePairs("--label", labels)
			flagErr = errors.Join(flagErr, err)
			cfg.Labels = m
		case "image":
			m, err := parsePairs("--image", images)
			flagErr = errors.Join(flagErr, err)
			cfg.Images = mergeMaps(cfg.Images, m)
		}
	})
	if flagErr != nil {
		return Config{}, flagErr
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
		if _, _, err := serverAddress(c.Server); err != nil {
			errs = append(errs, err)
		}
	}
	if c.JoinToken != "" {
		if _, _, err := parseJoinToken(c.JoinToken); err != nil {
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
	for name, addr := range map[string]string{"http listen": c.HTTPListen, "https listen": c.HTTPSListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want host:port such as :443: %w", name, addr, err))
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics listen %q: want host:port such as 127.0.0.1:9465, or empty for none: %w", c.MetricsListen, err))
		}
	}
	if c.AdvertiseAddress != "" {
		if host, port, err := net.SplitHostPort(c.AdvertiseAddress); err != nil || host == "" || port == "0" {
			errs = append(errs, fmt.Errorf("advertise address %q: want host:port where peers reach this node's edge", c.AdvertiseAddress))
		}
	}
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
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: want text or json", c.LogFormat))
	}
	if c.Resync < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("resync %s: at least 1s", time.Duration(c.Resync)))
	}
	return errors.Join(errs...)
}

// NewLogger returns the logger the configuration asks for.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// serverAddress turns "https://host:port", "host:port" or "host" into the
// address to dial and the host name the server certificate must match.
func serverAddress(s string) (addr, host string, err error) {
	fail := func(msg string) (string, string, error) {
		return "", "", fmt.Errorf("server %q: %s", s, msg)
	}
	hostport := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return fail("not a URL")
		}
		if u.Scheme != "https" {
			return fail("berthd speaks only TLS: use https://host:port")
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fail("want only https://host:port, without a path")
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), "8443"
	}
	if host == "" || strings.ContainsAny(host, " /@") {
		return fail("want https://host:port")
	}
	return net.JoinHostPort(host, port), host, nil
}

// parseJoinToken splits "berthjoin_<43 base62>.<64 hex>" into the secret
// sent to berthd and the SHA-256 of berthd's CA certificate.
func parseJoinToken(token string) (secret string, caHash []byte, err error) {
	bad := errors.New("join token: want berthjoin_<43 letters and digits>.<64 hex digits>, as printed by `berth node join-token`")
	secret, pin, ok := strings.Cut(token, ".")
	rand, hasPrefix := strings.CutPrefix(secret, joinTokenPrefix)
	if !ok || !hasPrefix || len(rand) != 43 || len(pin) != 64 {
		return "", nil, bad
	}
	for _, r := range rand {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return "", nil, bad
		}
	}
	caHash, err = hex.DecodeString(strings.ToLower(pin))
	if err != nil {
		return "", nil, bad
	}
	return secret, caHash, nil
}

// challenge says whether the edge answers ACME challenges of type typ.
func (c Config) challenge(typ string) bool { return slices.Contains(c.ACMEChallenges, typ) }

// splitList splits a comma-separated list, dropping blanks and leading dots.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(p)), "."); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// pairList collects repeated key=value flags.
type pairList []string

func (l *pairList) String() string     { return strings.Join(*l, ",") }
func (l *pairList) Set(v string) error { *l = append(*l, v); return nil }

func parsePairs(source string, pairs []string) (map[string]string, error) {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", source, p)
		}
		m[k] = v
	}
	return m, nil
}

// mergeMaps returns a copy of base with over's entries added or replaced.
func mergeMaps(base, over map[string]string) map[string]string {
	m := maps.Clone(base)
	if m == nil {
		m = make(map[string]string, len(over))
	}
	maps.Copy(m, over)
	return m
}
