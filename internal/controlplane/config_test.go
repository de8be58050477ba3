package controlplane

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/shared/config/configtest"
)

func TestLoadPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "berthd.json")
	if err := os.WriteFile(file, []byte(`{"data_dir": "/from/file", "listen": ":1000", "metrics_listen": ":1001", "log_level": "debug"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BERTH_CONFIG": file, "BERTH_LISTEN": ":2000", "BERTH_METRICS_LISTEN": ":2001", "BERTH_TLS_HOSTS": "berth.example,10.1.2.3",
		"BERTH_UPTIME_TICK": "30s", "BERTH_INCIDENT_MINUTES": "5"}
	got, err := Load([]string{"--metrics-listen", ":3001", "--audit-retention", "48h", "--internal-suffixes", "test,.dev.example.com",
		"--incident-minutes", "1"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.DataDir = "/from/file"                           // file beats default
	want.LogLevel = "debug"                               // file
	want.Listen = ":2000"                                 // env beats file
	want.MetricsListen = ":3001"                          // flag beats env
	want.TLSHosts = []string{"berth.example", "10.1.2.3"} // env
	want.AuditRetention = Duration(48 * time.Hour)        // flag
	want.InternalSuffixes = []string{"test", "dev.example.com"}
	want.UptimeTick = Duration(30 * time.Second) // env
	want.IncidentMinutes = 1                     // flag beats env
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"data_dir": "/x", "listn": ":1"}`), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown key in file", []string{"--config", unknown}, nil, `unknown field "listn"`},
		{"bad internal suffix", []string{"--internal-suffixes", "a..b"}, nil, `internal suffix: "a..b" is not a domain suffix`},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.json")}, nil, "read config"},
		{"bad listen", []string{"--listen", "8443"}, nil, "want host:port"},
		{"postgres not yet", []string{"--store", "postgres://db/berth"}, nil, "PostgreSQL store is not available"},
		{"bad store", []string{"--store", "mysql"}, nil, `want "sqlite"`},
		{"bad log level", []string{"--log-level", "loud"}, nil, "log level"},
		{"short retention", []string{"--audit-retention", "1h"}, nil, "at least 24h"},
		{"stray argument", []string{"serve"}, nil, "takes only flags"},
		{"bad tls host", []string{"--tls-host", "a b"}, nil, "tls host"},
		{"no incident minutes", []string{"--incident-minutes", "0"}, nil, "incident minutes 0: want 1 to 60"},
		{"too many incident minutes", nil, map[string]string{"BERTH_INCIDENT_MINUTES": "61"}, "incident minutes 61: want 1 to 60"},
		{"incident minutes not a number", nil, map[string]string{"BERTH_INCIDENT_MINUTES": "two"}, "want a whole number of minutes"},
		{"short uptime tick", []string{"--uptime-tick", "500ms"}, nil, "uptime tick 500ms: want 1s to 1m"},
		{"long uptime tick", nil, map[string]string{"BERTH_UPTIME_TICK": "2m"}, "uptime tick 2m0s: want 1s to 1m"},
		{"bad uptime tick", []string{"--uptime-tick", "often"}, nil, `uptime tick "often"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%q, env %v) = %v, want an error containing %q", tc.args, tc.env, err, tc.want)
			}
		})
	}
}

func TestHelpShowsEverySetting(t *testing.T) {
	var c Config
	configtest.Help(t, func(args []string, stderr io.Writer) error {
		_, err := Load(args, func(string) string { return "" }, stderr)
		return err
	}, c.settings())
}

func TestReadmeTableMatchesSettings(t *testing.T) {
	var c Config
	configtest.Readme(t, "../../README.md", "Configuring berthd", c.settings())
}

// Metrics are turned off by "off", as documented, or by an empty value, as
// the agent took it.
func TestMetricsOff(t *testing.T) {
	file := filepath.Join(t.TempDir(), "berthd.json")
	if err := os.WriteFile(file, []byte(`{"metrics_listen": ""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--metrics-listen", "off"}, nil},
		{[]string{"--metrics-listen", ""}, nil},
		{nil, map[string]string{"BERTH_METRICS_LISTEN": "off"}},
		{[]string{"--config", file}, nil},
	} {
		got, err := Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil || got.MetricsListen != "off" {
			t.Errorf("Load(%q, env %v) metrics listen = %q, %v; want off", tc.args, tc.env, got.MetricsListen, err)
		}
	}
}
