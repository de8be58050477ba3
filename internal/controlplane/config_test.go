package controlplane

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "berthd.json")
	if err := os.WriteFile(file, []byte(`{"data_dir": "/from/file", "listen": ":1000", "metrics_listen": ":1001", "log_level": "debug"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BERTH_CONFIG": file, "BERTH_LISTEN": ":2000", "BERTH_METRICS_LISTEN": ":2001", "BERTH_TLS_HOSTS": "berth.example,10.1.2.3"}
	got, err := Load([]string{"--metrics-listen", ":3001", "--audit-retention", "48h", "--internal-suffixes", "test,.dev.example.com"}, func(k string) string { return env[k] }, io.Discard)
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
		want string
	}{
		{"unknown key in file", []string{"--config", unknown}, `unknown field "listn"`},
		{"bad internal suffix", []string{"--internal-suffixes", "a..b"}, `internal suffix: "a..b" is not a domain suffix`},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.json")}, "read config"},
		{"bad listen", []string{"--listen", "8443"}, "want host:port"},
		{"postgres not yet", []string{"--store", "postgres://db/berth"}, "PostgreSQL store is not available"},
		{"bad store", []string{"--store", "mysql"}, `want "sqlite"`},
		{"bad log level", []string{"--log-level", "loud"}, "log level"},
		{"short retention", []string{"--audit-retention", "1h"}, "at least 24h"},
		{"stray argument", []string{"serve"}, "takes only flags"},
		{"bad tls host", []string{"--tls-host", "a b"}, "tls host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
