package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveSettingsPrecedence(t *testing.T) {
	file := fileConfig{Server: "https://file.test:8443", Token: "berth_file", CA: "/etc/file-ca.pem"}
	tests := []struct {
		name      string
		flag, env sources
		file      fileConfig
		want      settings
	}{
		{
			name: "defaults",
			want: settings{server: serverAddr{"localhost", "8443"}},
		},
		{
			name: "config file",
			file: file,
			want: settings{server: serverAddr{"file.test", "8443"}, token: "berth_file", ca: "/etc/file-ca.pem"},
		},
		{
			name: "env over config file",
			env:  sources{Token: "berth_env", CA: "env-ca.pem"},
			file: file,
			want: settings{server: serverAddr{"file.test", "8443"}, token: "berth_env", ca: "env-ca.pem"},
		},
		{
			name: "flag over env",
			flag: sources{Server: "flag.test:9443", Token: "berth_flag", CA: "flag-ca.pem"},
			env:  sources{Server: "https://env.test:8443", Token: "berth_env", CA: "env-ca.pem"},
			file: file,
			want: settings{server: serverAddr{"flag.test", "9443"}, token: "berth_flag", ca: "flag-ca.pem"},
		},
		{
			name: "env server over config file and default",
			env:  sources{Server: "env.test:8443"},
			want: settings{server: serverAddr{"env.test", "8443"}},
		},
		{
			name: "file token and CA apply to the same server written differently",
			flag: sources{Server: "FILE.test:8443"},
			file: file,
			want: settings{server: serverAddr{"file.test", "8443"}, token: "berth_file", ca: "/etc/file-ca.pem"},
		},
		{
			name: "file token and CA are not sent to another server",
			flag: sources{Server: "other.test:8443"},
			file: file,
			want: settings{server: serverAddr{"other.test", "8443"}},
		},
		{
			name: "file without server: its token is for the default server",
			file: fileConfig{Token: "berth_file"},
			want: settings{server: serverAddr{"localhost", "8443"}, token: "berth_file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveSettings(tt.flag, tt.env, tt.file)
			if err != nil {
				t.Fatalf("resolveSettings: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(settings{}, serverAddr{})); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveSettingsRejectsBadServer(t *testing.T) {
	_, err := resolveSettings(sources{}, sources{Server: "http://localhost:8443"}, fileConfig{})
	if err == nil || !strings.Contains(err.Error(), "only speaks TLS") {
		t.Errorf("resolveSettings(http://) error = %v, want one saying berthd only speaks TLS", err)
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() of the result
		wantErr string // substring of the error
	}{
		{in: "https://localhost:8443", want: "https://localhost:8443"},
		{in: "https://localhost:8443/", want: "https://localhost:8443"},
		{in: "localhost:8443", want: "https://localhost:8443"},
		{in: " berth.example.com:9443 ", want: "https://berth.example.com:9443"},
		{in: "HTTPS://Berth.Example.com:8443", want: "https://berth.example.com:8443"},
		{in: "https://berth.example.com", want: "https://berth.example.com:443"},
		{in: "berth.example.com", want: "https://berth.example.com:443"},
		{in: "127.0.0.1:8443", want: "https://127.0.0.1:8443"},
		{in: "[::1]:8443", want: "https://[::1]:8443"},
		{in: "https://[::1]:8443", want: "https://[::1]:8443"},
		{in: "[::1]", want: "https://[::1]:443"},
		{in: "http://localhost:8443", wantErr: "berthd only speaks TLS: use https://localhost:8443"},
		{in: "grpc://localhost:8443", wantErr: "unsupported scheme"},
		{in: "https://localhost:8443/api", wantErr: "without user, path or query"},
		{in: "https://user@localhost:8443", wantErr: "without user, path or query"},
		{in: "localhost:8443/api", wantErr: "want https://host:port"},
		{in: "localhost:http", wantErr: "invalid port"},
		{in: "localhost:70000", wantErr: "invalid port"},
		{in: "localhost:0", wantErr: "invalid port"},
		{in: ":8443", wantErr: "missing host"},
		{in: "%0", wantErr: "invalid host name"},
		{in: "exa mple.com:8443", wantErr: "invalid host name"},
		{in: "::1", wantErr: "too many colons"},
		{in: "", wantErr: "server address is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseServer(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseServer(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseServer(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("parseServer(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestConfigPath(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{name: "flag", flag: "/f.json", env: map[string]string{"BERTH_CONFIG": "/e.json", "HOME": "/home/u"}, want: "/f.json"},
		{name: "env", env: map[string]string{"BERTH_CONFIG": "/e.json", "XDG_CONFIG_HOME": "/x"}, want: "/e.json"},
		{name: "xdg", env: map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/home/u"}, want: "/x/berth/config.json"},
		{name: "relative xdg is ignored", env: map[string]string{"XDG_CONFIG_HOME": "x", "HOME": "/home/u"}, want: "/home/u/.config/berth/config.json"},
		{name: "home", env: map[string]string{"HOME": "/home/u"}, want: "/home/u/.config/berth/config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configPath(tt.flag, mapEnv(tt.env))
			if err != nil {
				t.Fatalf("configPath: %v", err)
			}
			if got != tt.want {
				t.Errorf("configPath = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := configPath("", mapEnv(nil)); err == nil {
		t.Error("configPath without HOME: no error")
	}
}

func TestWriteConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "berth")
	path := filepath.Join(dir, "config.json")
	first := fileConfig{Server: "https://a.test:8443", Token: "berth_a", CA: "/ca.pem"}
	if err := writeConfig(path, first); err != nil {
		t.Fatalf("writeConfig: %v", err)
	}
	assertMode(t, dir, 0o700|os.ModeDir)
	assertMode(t, path, 0o600)

	// An existing file, even with loose permissions, is replaced by a new
	// file (a rename, not an in-place write), so readers never see half a
	// file and the new one is 0600.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	second := fileConfig{Server: "https://b.test:8443", Token: "berth_b"}
	if err := writeConfig(path, second); err != nil {
		t.Fatalf("writeConfig again: %v", err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Error("writeConfig rewrote the file in place; want a new file renamed over it")
	}
	assertMode(t, path, 0o600)

	got, err := loadConfig(path)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if diff := cmp.Diff(second, got); diff != "" {
		t.Errorf("config read back (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("config dir holds %v, want only config.json (no temporary files left)", names)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	if c, err := loadConfig(filepath.Join(dir, "missing.json")); err != nil || c != (fileConfig{}) {
		t.Errorf("loadConfig(missing) = %+v, %v; want empty config", c, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"server":"https://a.test","tokn":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), `unknown field "tokn"`) {
		t.Errorf("loadConfig(unknown key) error = %v, want unknown field", err)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		t.Errorf("mode of %s = %v, want %v", path, got, want)
	}
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"https://localhost:8443", "localhost:8443", "[::1]:8443", "http://a:1", "https://a/b", "a:b:c", "", "[", "https://[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseServer(s)
		if err != nil {
			return
		}
		// What parseServer accepts, it accepts again in its own spelling.
		again, err := parseServer(got.String())
		if err != nil || again != got {
			t.Errorf("parseServer(%q) = %v, but parseServer(%q) = %v, %v", s, got, got.String(), again, err)
		}
	})
}
