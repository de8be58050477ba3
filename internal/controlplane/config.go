package controlplane

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fixaroo/berth/internal/validate"
)

// Config is berthd's configuration. Load fills it from, in increasing order
// of precedence: the defaults below, an optional JSON file (--config or
// BERTH_CONFIG; unknown keys are errors), BERTH_* environment variables, and
// flags.
type Config struct {
	// DataDir holds the SQLite database, the CA, the secrets key and
	// admin.token. Default "/var/lib/berth". Flag --data-dir, env BERTH_DATA_DIR.
	DataDir string `json:"data_dir"`
	// Listen is the one TLS address for gRPC, REST and the web UI.
	// Default ":8443". Flag --listen, env BERTH_LISTEN.
	Listen string `json:"listen"`
	// MetricsListen is the plain-HTTP address of /metrics; "off" disables it.
	// Default ":9464". Flag --metrics-listen, env BERTH_METRICS_LISTEN.
	MetricsListen string `json:"metrics_listen"`
	// Store is "sqlite" (default: DATA/berth.db) or a postgres:// URL.
	// Flag --store, env BERTH_STORE.
	Store string `json:"store"`
	// TLSHosts are extra host names and IP addresses for berthd's server
	// certificate, beyond localhost, the loopback addresses and the machine's
	// host name. Flag --tls-host (repeatable), env BERTH_TLS_HOSTS (comma-separated).
	TLSHosts []string `json:"tls_hosts"`
	// InternalSuffixes are the domain suffixes whose site certificates
	// berthd's CA signs for the nodes (development names no public CA
	// issues). Default ["localhost", "test", "internal"]. Flag
	// --internal-suffixes, env BERTH_INTERNAL_SUFFIXES (comma-separated).
	InternalSuffixes []string `json:"internal_suffixes"`
	// ProbeInterval is how often each vantage point probes each site.
	// Default "60s", at least "10s". Flag --probe-interval, env BERTH_PROBE_INTERVAL.
	ProbeInterval Duration `json:"probe_interval"`
	// ProbeFromBerthd makes berthd one of every site's vantage points.
	// Default true. Flag --probe-from-berthd, env BERTH_PROBE_FROM_BERTHD.
	ProbeFromBerthd bool `json:"probe_from_berthd"`
	// ProbeRoots is a PEM file of extra CAs berthd trusts when it probes
	// sites (e.g. a test ACME server's root). Flag --probe-roots, env BERTH_PROBE_ROOTS.
	ProbeRoots string `json:"probe_roots"`
	// UptimeSettle is how long after a minute ends it is judged, so that
	// late and buffered probe results count. Default "90s". Flag
	// --uptime-settle, env BERTH_UPTIME_SETTLE.
	UptimeSettle Duration `json:"uptime_settle"`
	// UptimeTick is how often berthd looks for settled minutes to judge.
	// Default "10s", 1s to 1m. Flag --uptime-tick, env BERTH_UPTIME_TICK.
	UptimeTick Duration `json:"uptime_tick"`
	// IncidentMinutes is how many consecutive down minutes open an
	// incident, and how many not-down minutes resolve it. Default 2, 1 to
	// 60. Flag --incident-minutes, env BERTH_INCIDENT_MINUTES.
	IncidentMinutes int `json:"incident_minutes"`
	// AlertAllowPrivate are private address ranges (CIDR) that alert
	// webhooks and SMTP servers may be on; by default only public
	// addresses are reached. Flag --alert-allow-private (repeatable), env
	// BERTH_ALERT_ALLOW_PRIVATE (comma-separated).
	AlertAllowPrivate []string `json:"alert_allow_private"`
	// LogLevel is debug, info, warn or error. Default "info". Flag --log-level, env BERTH_LOG_LEVEL.
	LogLevel string `json:"log_level"`
	// LogFormat is text or json. Default "text". Flag --log-format, env BERTH_LOG_FORMAT.
	LogFormat string `json:"log_format"`
	// AuditRetention is how long audit events are kept. Default 400 days
	// ("9600h"). Flag --audit-retention, env BERTH_AUDIT_RETENTION.
	AuditRetention Duration `json:"audit_retention"`
}

// Duration is a time.Duration written as a string such as "720h" in JSON.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"720h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		DataDir:         "/var/lib/berth",
		Listen:          ":8443",
		MetricsListen:   ":9464",
		Store:           "sqlite",
		LogLevel:        "info",
		LogFormat:       "text",
		AuditRetention:  Duration(400 * 24 * time.Hour),
		ProbeInterval:   Duration(time.Minute),
		ProbeFromBerthd: true,
		UptimeSettle:    Duration(90 * time.Second),
		UptimeTick:      Duration(10 * time.Second),
		IncidentMinutes: 2,
	}
}

// Load builds the configuration from args (without the program name) and
// the environment, and validates it.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("berthd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("BERTH_CONFIG"), "JSON configuration file (env BERTH_CONFIG)")
	var flagCfg Config
	var tlsHosts, allowPrivate stringList
	var retention, suffixes, probeInterval, settle, tick string
	fs.BoolVar(&flagCfg.ProbeFromBerthd, "probe-from-berthd", true, "probe every site from berthd too, as one more vantage point (env BERTH_PROBE_FROM_BERTHD)")
	fs.StringVar(&flagCfg.DataDir, "data-dir", "", "data directory: database, CA, keys, admin.token (default "+cfg.DataDir+"; env BERTH_DATA_DIR)")
	fs.StringVar(&flagCfg.Listen, "listen", "", "TLS address for gRPC, REST and the web UI (default "+cfg.Listen+"; env BERTH_LISTEN)")
	fs.StringVar(&flagCfg.MetricsListen, "metrics-listen", "", "plain-HTTP address for /metrics, or \"off\" (default "+cfg.MetricsListen+"; env BERTH_METRICS_LISTEN)")
	fs.StringVar(&flagCfg.Store, "store", "", "\"sqlite\" or a postgres:// URL (default sqlite; env BERTH_STORE)")
	fs.Var(&tlsHosts, "tls-host", "extra host name or IP for the server certificate; repeatable (env BERTH_TLS_HOSTS)")
	fs.Var(&allowPrivate, "alert-allow-private", "private CIDR range alert webhooks and SMTP servers may be on; repeatable (env BERTH_ALERT_ALLOW_PRIVATE)")
	fs.StringVar(&probeInterval, "probe-interval", "", "how often each vantage point probes each site, at least 10s (default 60s; env BERTH_PROBE_INTERVAL)")
	fs.StringVar(&flagCfg.ProbeRoots, "probe-roots", "", "PEM file of extra CAs trusted when berthd probes sites (env BERTH_PROBE_ROOTS)")
	fs.StringVar(&settle, "uptime-settle", "", "how long after a minute ends it is judged (default 90s; env BERTH_UPTIME_SETTLE)")
	fs.StringVar(&tick, "uptime-tick", "", "how often settled minutes are looked for and judged, 1s to 1m (default 10s; env BERTH_UPTIME_TICK)")
	fs.IntVar(&flagCfg.IncidentMinutes, "incident-minutes", 0, "consecutive down minutes that open an incident, and not-down minutes that resolve it, 1 to 60 (default 2; env BERTH_INCIDENT_MINUTES)")
	fs.StringVar(&suffixes, "internal-suffixes", "", "comma-separated domain suffixes whose site certificates berthd's CA signs (default localhost,test,internal; env BERTH_INTERNAL_SUFFIXES)")
	fs.StringVar(&flagCfg.LogLevel, "log-level", "", "debug, info, warn or error (default info; env BERTH_LOG_LEVEL)")
	fs.StringVar(&flagCfg.LogFormat, "log-format", "", "text or json (default text; env BERTH_LOG_FORMAT)")
	fs.StringVar(&retention, "audit-retention", "", "how long audit events are kept (default 9600h; env BERTH_AUDIT_RETENTION)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: berthd takes only flags", fs.Arg(0))
	}

	if *configPath != "" {
		b, err := os.ReadFile(*configPath)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", *configPath, err)
		}
	}

	env := map[string]*string{
		"BERTH_DATA_DIR": &cfg.DataDir, "BERTH_LISTEN": &cfg.Listen, "BERTH_METRICS_LISTEN": &cfg.MetricsListen,
		"BERTH_STORE": &cfg.Store, "BERTH_PROBE_ROOTS": &cfg.ProbeRoots, "BERTH_LOG_LEVEL": &cfg.LogLevel, "BERTH_LOG_FORMAT": &cfg.LogFormat,
	}
	for k, p := range env {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if v := getenv("BERTH_TLS_HOSTS"); v != "" {
		cfg.TLSHosts = strings.Split(v, ",")
	}
	if v := getenv("BERTH_INTERNAL_SUFFIXES"); v != "" {
		cfg.InternalSuffixes = splitSuffixes(v)
	}
	if v := getenv("BERTH_PROBE_FROM_BERTHD"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("BERTH_PROBE_FROM_BERTHD %q: want true or false", v)
		}
		cfg.ProbeFromBerthd = b
	}
	if v := getenv("BERTH_ALERT_ALLOW_PRIVATE"); v != "" {
		cfg.AlertAllowPrivate = strings.Split(v, ",")
	}
	if v := getenv("BERTH_PROBE_INTERVAL"); v != "" {
		probeInterval = cmpOr(probeInterval, v)
	}
	if v := getenv("BERTH_UPTIME_SETTLE"); v != "" {
		settle = cmpOr(settle, v)
	}
	if v := getenv("BERTH_UPTIME_TICK"); v != "" {
		tick = cmpOr(tick, v)
	}
	if v := getenv("BERTH_INCIDENT_MINUTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, fmt.Errorf("BERTH_INCIDENT_MINUTES %q: want a whole number of minutes", v)
		}
		cfg.IncidentMinutes = n
	}
	if v := getenv("BERTH_AUDIT_RETENTION"); v != "" {
		retention = cmpOr(retention, v)
	}

	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = flagCfg.DataDir
		case "listen":
			cfg.Listen = flagCfg.Listen
		case "metrics-listen":
			cfg.MetricsListen = flagCfg.MetricsListen
		case "store":
			cfg.Store = flagCfg.Store
		case "tls-host":
			cfg.TLSHosts = tlsHosts
		case "internal-suffixes":
			cfg.InternalSuffixes = splitSuffixes(suffixes)
		case "alert-allow-private":
			cfg.AlertAllowPrivate = allowPrivate
		case "probe-from-berthd":
			cfg.ProbeFromBerthd = flagCfg.ProbeFromBerthd
		case "probe-roots":
			cfg.ProbeRoots = flagCfg.ProbeRoots
		case "incident-minutes":
			cfg.IncidentMinutes = flagCfg.IncidentMinutes
		case "log-level":
			cfg.LogLevel = flagCfg.LogLevel
		case "log-format":
			cfg.LogFormat = flagCfg.LogFormat
		}
	})
	for _, d := range []struct {
		name, value string
		into        *Duration
	}{{"audit retention", retention, &cfg.AuditRetention}, {"probe interval", probeInterval, &cfg.ProbeInterval}, {"uptime settle", settle, &cfg.UptimeSettle}, {"uptime tick", tick, &cfg.UptimeTick}} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil {
			return Config{}, fmt.Errorf("%s %q: %w", d.name, d.value, err)
		}
		*d.into = Duration(v)
	}
	return cfg, cfg.Validate()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// Validate reports the first setting that cannot work, saying how to fix it.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir: set --data-dir"))
	}
	for _, sfx := range c.InternalSuffixes {
		if err := validate.DomainSuffix("internal suffix", sfx); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want host:port such as :8443: %w", c.Listen, err))
	}
	if c.MetricsListen != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics listen %q: want host:port such as :9464, or off: %w", c.MetricsListen, err))
		}
	}
	switch {
	case c.Store == "sqlite":
	case strings.HasPrefix(c.Store, "postgres://"), strings.HasPrefix(c.Store, "postgresql://"):
		errs = append(errs, errors.New("store: the PostgreSQL store is not available in this version of berthd; use --store sqlite"))
	default:
		errs = append(errs, fmt.Errorf("store %q: want \"sqlite\" or a postgres:// URL", c.Store))
	}
	for _, h := range c.TLSHosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " /:") && net.ParseIP(h) == nil {
			errs = append(errs, fmt.Errorf("tls host %q: want a host name or an IP address", h))
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: want text or json", c.LogFormat))
	}
	for _, p := range c.AlertAllowPrivate {
		if _, err := netip.ParsePrefix(strings.TrimSpace(p)); err != nil {
			errs = append(errs, fmt.Errorf("alert allow private %q: want a CIDR range such as 10.0.0.0/8", p))
		}
	}
	if c.ProbeInterval < Duration(10*time.Second) {
		errs = append(errs, fmt.Errorf("probe interval %s: at least 10s", time.Duration(c.ProbeInterval)))
	}
	if c.UptimeSettle < Duration(10*time.Second) {
		errs = append(errs, fmt.Errorf("uptime settle %s: at least 10s, so that results in flight count", time.Duration(c.UptimeSettle)))
	}
	if c.UptimeTick < Duration(time.Second) || c.UptimeTick > Duration(time.Minute) {
		errs = append(errs, fmt.Errorf("uptime tick %s: want 1s to 1m", time.Duration(c.UptimeTick)))
	}
	if c.IncidentMinutes < 1 || c.IncidentMinutes > 60 {
		errs = append(errs, fmt.Errorf("incident minutes %d: want 1 to 60", c.IncidentMinutes))
	}
	if c.AuditRetention < Duration(24*time.Hour) {
		errs = append(errs, fmt.Errorf("audit retention %s: keep audit events for at least 24h", time.Duration(c.AuditRetention)))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
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

// splitSuffixes splits a comma-separated list of domain suffixes, dropping
// blanks and leading dots.
func splitSuffixes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(p)), "."); p != "" {
			out = append(out, p)
		}
	}
	return out
}
