package controlplane

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/fixaroo/berth/internal/shared/config"
	"github.com/fixaroo/berth/internal/shared/validate"
)

// Config is berthd's configuration. Load fills it from, in increasing order
// of precedence: the defaults, an optional JSON file (--config or
// BERTH_CONFIG; unknown keys are errors), BERTH_* environment variables, and
// flags. Each field's flag, environment variable, default and bounds are
// declared once, in settings below; `berthd --help` prints them and the
// README's table is checked against them. A field's JSON key is its tag.
type Config struct {
	// DataDir holds the SQLite database, the CA, the secrets key and
	// admin.token.
	DataDir string `json:"data_dir"`
	// Listen is the one TLS address for gRPC, REST and the web UI.
	Listen string `json:"listen"`
	// MetricsListen is the plain-HTTP address of /metrics; "off" disables
	// it (Load also takes an empty value for off).
	MetricsListen string `json:"metrics_listen"`
	// Store is "sqlite" (DATA/berth.db) or a postgres:// URL.
	Store string `json:"store"`
	// TLSHosts are extra host names and IP addresses for berthd's server
	// certificate, beyond localhost, the loopback addresses and the machine's
	// host name.
	TLSHosts []string `json:"tls_hosts"`
	// InternalSuffixes are the domain suffixes whose site certificates
	// berthd's CA signs for the nodes (development names no public CA
	// issues).
	InternalSuffixes []string `json:"internal_suffixes"`
	// ProbeInterval is how often each vantage point probes each site.
	ProbeInterval Duration `json:"probe_interval"`
	// ProbeFromBerthd makes berthd one of every site's vantage points.
	ProbeFromBerthd bool `json:"probe_from_berthd"`
	// ProbeRoots is a PEM file of extra CAs berthd trusts when it probes
	// sites (e.g. a test ACME server's root).
	ProbeRoots string `json:"probe_roots"`
	// UptimeSettle is how long after a minute ends it is judged, so that
	// late and buffered probe results count.
	UptimeSettle Duration `json:"uptime_settle"`
	// UptimeTick is how often berthd looks for settled minutes to judge.
	UptimeTick Duration `json:"uptime_tick"`
	// IncidentMinutes is how many consecutive down minutes open an
	// incident, and how many not-down minutes resolve it.
	IncidentMinutes int `json:"incident_minutes"`
	// AlertAllowPrivate are private address ranges (CIDR) that alert
	// webhooks and SMTP servers may be on; by default only public
	// addresses are reached.
	AlertAllowPrivate []string `json:"alert_allow_private"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// LogFormat is text or json.
	LogFormat string `json:"log_format"`
	// AuditRetention is how long audit events are kept.
	AuditRetention Duration `json:"audit_retention"`
}

// settings is berthd's settings table, bound to c's fields.
func (c *Config) settings() []config.Setting {
	return []config.Setting{
		{Flag: "data-dir", Env: "BERTH_DATA_DIR", Default: "/var/lib/berth",
			Help: "data directory: database, CA, keys, admin.token", Value: config.String(&c.DataDir)},
		{Flag: "listen", Env: "BERTH_LISTEN", Default: ":8443",
			Help: "TLS address for gRPC, REST and the web UI", Value: config.String(&c.Listen)},
		{Flag: "metrics-listen", Env: "BERTH_METRICS_LISTEN", Default: ":9464",
			Help: "plain-HTTP address for /metrics, or off", Value: config.AddrOrOff(&c.MetricsListen, config.Off)},
		{Flag: "store", Env: "BERTH_STORE", Default: "sqlite",
			Help: `"sqlite" or a postgres:// URL`, Value: config.String(&c.Store)},
		{Flag: "tls-host", Env: "BERTH_TLS_HOSTS",
			Help: "extra host name or IP for the server certificate", Value: config.Repeated(&c.TLSHosts)},
		{Flag: "log-level", Env: "BERTH_LOG_LEVEL", Default: "info",
			Help: "debug, info, warn or error", Value: config.Level(&c.LogLevel)},
		{Flag: "log-format", Env: "BERTH_LOG_FORMAT", Default: "text",
			Help: "text or json", Value: config.OneOf(&c.LogFormat, "text", "json")},
		{Flag: "audit-retention", Env: "BERTH_AUDIT_RETENTION", Default: "9600h",
			Help: "how long audit events are kept, at least 24h", Value: config.DurationOf(&c.AuditRetention).AtLeast(24 * time.Hour)},
		{Flag: "internal-suffixes", Env: "BERTH_INTERNAL_SUFFIXES", Default: "localhost,test,internal",
			Help: "comma-separated domain suffixes whose site certificates berthd's CA signs", Value: config.List(&c.InternalSuffixes)},
		{Flag: "probe-interval", Env: "BERTH_PROBE_INTERVAL", Default: "60s",
			Help: "how often each vantage point probes each site, at least 10s", Value: config.DurationOf(&c.ProbeInterval).AtLeast(10 * time.Second)},
		{Flag: "uptime-settle", Env: "BERTH_UPTIME_SETTLE", Default: "90s",
			Help:  "how long after a minute ends it is judged, at least 10s",
			Value: config.DurationOf(&c.UptimeSettle).AtLeast(10 * time.Second).Because("so that results in flight count")},
		{Flag: "uptime-tick", Env: "BERTH_UPTIME_TICK", Default: "10s",
			Help: "how often settled minutes are looked for and judged, 1s to 1m", Value: config.DurationOf(&c.UptimeTick).Within(time.Second, time.Minute)},
		{Flag: "incident-minutes", Env: "BERTH_INCIDENT_MINUTES", Default: "2",
			Help:  "consecutive down minutes that open an incident, and not-down minutes that resolve it, 1 to 60",
			Value: config.Int(&c.IncidentMinutes).Within(1, 60).Of("minutes")},
		{Flag: "probe-from-berthd", Env: "BERTH_PROBE_FROM_BERTHD", Default: "true",
			Help: "probe every site from berthd too, as one more vantage point", Value: config.Bool(&c.ProbeFromBerthd)},
		{Flag: "probe-roots", Env: "BERTH_PROBE_ROOTS",
			Help: "PEM file of extra CAs trusted when berthd probes sites", Value: config.String(&c.ProbeRoots)},
		{Flag: "alert-allow-private", Env: "BERTH_ALERT_ALLOW_PRIVATE",
			Help: "private CIDR range alert webhooks and SMTP servers may be on", Value: config.Repeated(&c.AlertAllowPrivate)},
	}
}

// Duration is a time.Duration written as a string such as "720h" in JSON.
type Duration = config.Duration

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	var c Config
	config.Defaults(c.settings())
	return c
}

// Load builds the configuration from args (without the program name) and
// the environment, and validates it. It returns flag.ErrHelp after
// printing the usage for -h.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var cfg Config
	l := config.Loader{Program: "berthd", ConfigEnv: "BERTH_CONFIG"}
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
	for _, sfx := range c.InternalSuffixes {
		if err := validate.DomainSuffix("internal suffix", sfx); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want host:port such as :8443: %w", c.Listen, err))
	}
	if c.MetricsListen != config.Off {
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
	for _, p := range c.AlertAllowPrivate {
		if _, err := netip.ParsePrefix(strings.TrimSpace(p)); err != nil {
			errs = append(errs, fmt.Errorf("alert allow private %q: want a CIDR range such as 10.0.0.0/8", p))
		}
	}
	// Log level and format, the durations' bounds, incident minutes.
	errs = append(errs, config.Check(c.settings()))
	return errors.Join(errs...)
}

// NewLogger returns the logger the configuration asks for.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	return config.NewLogger(w, c.LogLevel, c.LogFormat)
}
