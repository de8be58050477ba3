package config_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/shared/config"
	"github.com/fixaroo/berth/internal/shared/config/configtest"
)

type testConfig struct {
	Name    string            `json:"name"`
	Metrics string            `json:"metrics"`
	Wait    config.Duration   `json:"wait"`
	Count   int               `json:"count"`
	On      bool              `json:"on"`
	Level   string            `json:"level"`
	Format  string            `json:"format"`
	Names   []string          `json:"names"`
	Hosts   []string          `json:"hosts"`
	Labels  map[string]string `json:"labels"`
	Images  map[string]string `json:"images"`
}

func (c *testConfig) settings() []config.Setting {
	return []config.Setting{
		{Flag: "name", Env: "T_NAME", Default: "n0", Help: "a name", Value: config.String(&c.Name)},
		{Flag: "metrics", Env: "T_METRICS", Default: ":9", Help: "metrics address", Value: config.AddrOrOff(&c.Metrics, "off")},
		{Flag: "wait", Env: "T_WAIT", Default: "1m", Help: "a wait", Value: config.DurationOf(&c.Wait).Within(time.Second, time.Hour)},
		{Flag: "count", Env: "T_COUNT", Default: "2", Help: "a count", Value: config.Int(&c.Count).Within(1, 9).Of("things")},
		{Flag: "on", Env: "T_ON", Default: "true", Help: "a switch", Value: config.Bool(&c.On)},
		{Flag: "level", Env: "T_LEVEL", Default: "info", Help: "log level", Value: config.Level(&c.Level)},
		{Flag: "format", Env: "T_FORMAT", Default: "text", Help: "log format", Value: config.OneOf(&c.Format, "text", "json")},
		{Flag: "names", Env: "T_NAMES", Default: "a,b", Help: "names", Value: config.List(&c.Names)},
		{Flag: "host", Env: "T_HOSTS", Help: "hosts", Value: config.Repeated(&c.Hosts)},
		{Flag: "label", Env: "T_LABELS", Show: "none at all", Help: "labels", Value: config.Pairs(&c.Labels)},
		{Flag: "image", Env: "T_IMAGES", Default: "x=x:1,y=y:1", Help: "images", Value: config.Pairs(&c.Images).Merged()},
	}
}

var loader = config.Loader{Program: "test", ConfigEnv: "T_CONFIG"}

func load(args []string, env map[string]string) (testConfig, error) {
	var c testConfig
	err := loader.Load(&c, c.settings(), args, func(k string) string { return env[k] }, io.Discard)
	if err == nil {
		err = config.Check(c.settings())
	}
	return c, err
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	got, err := load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := testConfig{Name: "n0", Metrics: ":9", Wait: config.Duration(time.Minute), Count: 2, On: true, Level: "info", Format: "text",
		Names: []string{"a", "b"}, Images: map[string]string{"x": "x:1", "y": "y:1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `{"name": "file", "Count": 3, "wait": "2m", "names": ["F"], "hosts": ["h1"],
		"labels": {"a": "file", "b": "file"}, "images": {"y": "y:file", "z": "z:file"}, "on": false}`)
	env := map[string]string{"T_CONFIG": file, "T_NAME": "env", "T_COUNT": "4", "T_NAMES": " Env1, .env2.example ,,",
		"T_HOSTS": "e1,e2", "T_LABELS": "a=env", "T_IMAGES": "z=z:env"}
	got, err := load([]string{"--count", "5", "--count", "6", "--host", "f1", "--host", "f2",
		"--label", "c=flag", "--image", "x=x:flag", "--on", "--metrics", ""}, env)
	if err != nil {
		t.Fatal(err)
	}
	want := testConfig{
		Name:    "env",                            // env beats file
		Metrics: "off",                            // "" turns it off, spelled "off"
		Wait:    config.Duration(2 * time.Minute), // file beats default
		Count:   6,                                // the last flag beats env
		On:      true,                             // the flag alone is true
		Level:   "info", Format: "text",
		Names:  []string{"env1", "env2.example"},                              // trimmed, lowercased, no leading dot
		Hosts:  []string{"f1", "f2"},                                          // each flag one item
		Labels: map[string]string{"c": "flag"},                                // each source replaces labels
		Images: map[string]string{"x": "x:flag", "y": "y:file", "z": "z:env"}, // images merge
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestOff(t *testing.T) {
	for _, args := range [][]string{{"--metrics", "off"}, {"--metrics="}} {
		got, err := load(args, nil)
		if err != nil || got.Metrics != "off" {
			t.Errorf("load(%q) = %q, %v; want off", args, got.Metrics, err)
		}
	}
	got, _ := load(nil, map[string]string{"T_METRICS": "off"})
	file := writeFile(t, `{"metrics": ""}`)
	got2, _ := load([]string{"--config", file}, nil)
	// A binary whose code tests for "" stores off as "".
	var agent struct {
		Metrics string `json:"metrics"`
	}
	agentTable := []config.Setting{{Flag: "metrics", Env: "T_METRICS", Default: ":9", Value: config.AddrOrOff(&agent.Metrics, "")}}
	if err := loader.Load(&agent, agentTable, nil, func(k string) string { return map[string]string{"T_METRICS": "off"}[k] }, io.Discard); err != nil || agent.Metrics != "" {
		t.Errorf("off with off spelled \"\" = %q, %v; want \"\"", agent.Metrics, err)
	}
	if got.Metrics != "off" || got2.Metrics != "off" {
		t.Errorf("env off = %q, file empty = %q; want off", got.Metrics, got2.Metrics)
	}
	if !config.IsOff("off") || !config.IsOff("") || config.IsOff(":9") {
		t.Error("IsOff")
	}
}

func TestErrors(t *testing.T) {
	unknown := writeFile(t, `{"name": "x", "nmae": "y"}`)
	badType := writeFile(t, `{"count": "three"}`)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown key", []string{"--config", unknown}, nil, `config file ` + unknown + `: json: unknown field "nmae"`},
		{"wrong type in file", []string{"--config", badType}, nil, "config file " + badType + ": count: json: cannot unmarshal"},
		{"missing file", nil, map[string]string{"T_CONFIG": "/nonexistent/c.json"}, "read config"},
		{"stray argument", []string{"serve"}, nil, `unexpected argument "serve": test takes only flags`},
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined: -nope"},
		{"int from env", nil, map[string]string{"T_COUNT": "two"}, `count "two": want a whole number of things (T_COUNT)`},
		{"int out of range", []string{"--count", "10"}, nil, "count 10: want 1 to 9"},
		{"duration from flag", []string{"--wait", "soon"}, nil, `wait "soon": want a duration such as 30s or 10m (--wait)`},
		{"duration too short", []string{"--wait", "10ms"}, nil, "wait 10ms: want 1s to 1h"},
		{"duration too long", nil, map[string]string{"T_WAIT": "90m"}, "wait 1h30m0s: want 1s to 1h"},
		{"bool", nil, map[string]string{"T_ON": "yes"}, `on "yes": want true or false (T_ON)`},
		{"bool flag", []string{"--on=maybe"}, nil, `on "maybe": want true or false (--on)`},
		{"level", []string{"--level", "loud"}, nil, `level "loud": want debug, info, warn or error`},
		{"choice", []string{"--format", "xml"}, nil, `format "xml": want text or json`},
		{"pair", []string{"--label", "a=1", "--label", "b"}, nil, `label "b": want key=value (--label)`},
		{"pair from env", nil, map[string]string{"T_IMAGES": "x=1,=2"}, `image "=2": want key=value (T_IMAGES)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("load(%q, env %v) = %v, want an error containing %q", tc.args, tc.env, err, tc.want)
			}
		})
	}
}

func TestCheckBecause(t *testing.T) {
	var d config.Duration
	s := []config.Setting{{Flag: "uptime-settle", Value: config.DurationOf(&d).AtLeast(10 * time.Second).Because("so that results in flight count")}}
	err := config.Check(s)
	if want := "uptime settle 0s: at least 10s, so that results in flight count"; err == nil || err.Error() != want {
		t.Errorf("Check = %v, want %q", err, want)
	}
	d = config.Duration(24 * time.Hour)
	if err := config.Check(s); err != nil {
		t.Errorf("Check(24h) = %v", err)
	}
}

func TestHelp(t *testing.T) {
	var c testConfig
	help := configtest.Help(t, func(args []string, stderr io.Writer) error {
		return loader.Load(&c, c.settings(), args, func(string) string { return "" }, stderr)
	}, c.settings())
	for _, want := range []string{
		"  --wait duration\n    \ta wait\n    \tenv T_WAIT; file key wait; default 1m\n",
		"  --on\n",
		"env T_HOSTS; file key hosts; no default\n",
		"env T_LABELS; file key labels; default none at all\n",
		"  --config file\n",
		"env T_CONFIG\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
}

func TestTableMistakesPanic(t *testing.T) {
	var c testConfig
	var other string
	for name, settings := range map[string][]config.Setting{
		"setting of no field": append(c.settings(), config.Setting{Flag: "other", Value: config.String(&other)}),
		"field of no setting": c.settings()[1:],
		"bad default":         append(c.settings()[:2:2], append([]config.Setting{{Flag: "wait", Default: "soon", Value: config.DurationOf(&c.Wait)}}, c.settings()[3:]...)...),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Load did not panic")
				}
			}()
			loader.Load(&c, settings, nil, func(string) string { return "" }, io.Discard)
		})
	}
}

func TestSplitList(t *testing.T) {
	if diff := cmp.Diff([]string{"localhost", "dev.example.com"}, config.SplitList(" localhost, .Dev.Example.com,, ")); diff != "" {
		t.Error(diff)
	}
	if got := config.SplitList(""); got != nil {
		t.Errorf("SplitList(\"\") = %q, want nil", got)
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	log := config.NewLogger(&b, "warn", "json")
	log.Info("hidden")
	log.Warn("shown")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.HasPrefix(s, `{"time":`) || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("json logger at warn wrote %q", s)
	}
	b.Reset()
	config.NewLogger(&b, "debug", "text").Debug("hi")
	if !strings.Contains(b.String(), "level=DEBUG msg=hi") {
		t.Errorf("text logger at debug wrote %q", b.String())
	}
}
