package agent

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

var goodToken = "berthjoin_" + strings.Repeat("0aZ", 14) + "9." +
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestLoadConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(file, []byte(`{
		"data_dir": "/from/file", "node_name": "file-node", "http_listen": ":1080",
		"labels": {"zone": "file"}, "images": {"wordpress": "wordpress:6"}, "log_level": "debug", "resync": "2m"
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"BERTH_AGENT_CONFIG":            file,
		"BERTH_AGENT_NODE_NAME":         "env-node",
		"BERTH_AGENT_HTTPS_LISTEN":      ":2443",
		"BERTH_AGENT_SERVER":            "https://env.example:9443",
		"BERTH_AGENT_LABELS":            "zone=env,disk=ssd",
		"BERTH_AGENT_IMAGES":            "mariadb=mariadb:11",
		"BERTH_AGENT_INTERNAL_SUFFIXES": "localhost, .dev.example.com",
		"BERTH_AGENT_RESYNC":            "45s",
	}
	got, err := LoadConfig([]string{
		"--node-name", "flag-node", "--server", "berth.example:8443", "--join-token", goodToken,
		"--label", "zone=flag", "--image", "static=static:1", "--resync", "1h",
	}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.DataDir = "/from/file" // file beats default
	want.InternalSuffixes = []string{"localhost", "dev.example.com"}
	want.HTTPListen = ":1080"                       // file
	want.LogLevel = "debug"                         // file
	want.HTTPSListen = ":2443"                      // env beats default
	want.NodeName = "flag-node"                     // flag beats env beats file
	want.Server = "berth.example:8443"              // flag beats env
	want.JoinToken = goodToken                      // flag
	want.Resync = Duration(time.Hour)               // flag beats env beats file
	want.Labels = map[string]string{"zone": "flag"} // a later source replaces labels
	want.Images = map[string]string{                // images merge by kind
		ImageWordPress: "wordpress:6", ImageMariaDB: "mariadb:11", ImageStatic: "static:1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestResyncRejected(t *testing.T) {
	for _, args := range [][]string{{"--resync", "soon"}, {"--resync", "500ms"}, {"--resync", "-1s"}} {
		_, err := LoadConfig(append([]string{"--node-name", "n1"}, args...), func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "resync") {
			t.Errorf("LoadConfig(%v) = %v, want an error about resync", args, err)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	got, err := LoadConfig([]string{"--node-name", "n1"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.DataDir != "/var/lib/berth-agent" || got.HTTPListen != ":80" || got.HTTPSListen != ":443" {
		t.Errorf("defaults: data dir %q, listen %q %q", got.DataDir, got.HTTPListen, got.HTTPSListen)
	}
	want := map[string]string{"static": "berth/static:dev", "wordpress": "berth/wordpress:dev", "mariadb": "berth/mariadb:dev"}
	if diff := cmp.Diff(want, got.Images); diff != "" {
		t.Errorf("default images (-want +got):\n%s", diff)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	if got, want := DefaultConfig().NodeName, strings.ToLower(host); got != want {
		t.Errorf("default node name = %q, want the lowercased host name %q", got, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	if err := os.WriteFile(unknown, []byte(`{"data_dir": "/x", "servr": "a:1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown key in file", []string{"--config", unknown}, `unknown field "servr"`},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.json")}, "read config"},
		{"stray argument", []string{"join"}, "takes only flags"},
		{"token without server", []string{"--join-token", goodToken}, "set --server"},
		{"short token", []string{"--server", "a:1", "--join-token", "berthjoin_abc.00"}, "join token: want"},
		{"token without pin", []string{"--server", "a:1", "--join-token", strings.Split(goodToken, ".")[0]}, "join token: want"},
		{"token with bad pin", []string{"--server", "a:1", "--join-token", goodToken[:len(goodToken)-1] + "g"}, "join token: want"},
		{"api token instead", []string{"--server", "a:1", "--join-token", "berth_" + goodToken[10:]}, "join token: want"},
		{"http server", []string{"--server", "http://berth.example:8443"}, "use https://host:port"},
		{"server with path", []string{"--server", "https://berth.example/v1"}, "without a path"},
		{"bad node name", []string{"--node-name", "Node One"}, `node name "Node One"`},
		{"bad listen", []string{"--https-listen", "443"}, "https listen"},
		{"bad acme directory", []string{"--acme-directory", "http://acme"}, "acme directory"},
		{"bad acme email", []string{"--acme-email", "nobody"}, "acme email"},
		{"label without value", []string{"--label", "zone"}, "want key=value"},
		{"bad label", []string{"--label", "Zone=eu"}, "label key"},
		{"bad image kind", []string{"--image", "php=php:8"}, `image kind "php"`},
		{"empty image", []string{"--image", "static="}, "image for static"},
		{"bad log level", []string{"--log-level", "loud"}, "log level"},
		{"bad internal suffix", []string{"--internal-suffixes", "test,-bad"}, `internal suffix: "-bad" is not a domain suffix`},
		{"bad acme challenge", []string{"--acme-challenges", "dns-01"}, `acme challenge "dns-01"`},
		{"bad metrics listen", []string{"--metrics-listen", "9465"}, "metrics listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--node-name", "n1"}, tc.args...)
			_, err := LoadConfig(args, func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadConfig(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestHelpShowsEverySetting(t *testing.T) {
	var c Config
	configtest.Help(t, func(args []string, stderr io.Writer) error {
		_, err := LoadConfig(args, func(string) string { return "" }, stderr)
		return err
	}, c.settings())
}

func TestReadmeTableMatchesSettings(t *testing.T) {
	var c Config
	configtest.Readme(t, "../../README.md", "Configuring berth-agent", c.settings())
}

// Metrics are turned off by "off", as documented and as berthd takes it,
// or by an empty value, as before.
func TestMetricsOff(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(file, []byte(`{"metrics_listen": "off"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--metrics-listen", "off"}, nil},
		{[]string{"--metrics-listen", ""}, nil},
		{nil, map[string]string{"BERTH_AGENT_METRICS_LISTEN": "off"}},
		{[]string{"--config", file}, nil},
	} {
		got, err := LoadConfig(append([]string{"--node-name", "n1"}, tc.args...), func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil || got.MetricsListen != "" {
			t.Errorf("LoadConfig(%q, env %v) metrics listen = %q, %v; want none", tc.args, tc.env, got.MetricsListen, err)
		}
	}
}
