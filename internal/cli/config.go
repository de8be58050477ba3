package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// defaultServer is used when neither --server, BERTH_SERVER nor the config
// file names one: berthd's default listen address on this machine.
const defaultServer = "https://localhost:8443"

// fileConfig is the config file written by `berth login`. Unknown keys are errors.
type fileConfig struct {
	// Server is the berthd the token belongs to, e.g. "https://localhost:8443".
	Server string `json:"server,omitempty"`
	// Token is the bearer token, starting "berth_".
	Token string `json:"token,omitempty"`
	// CA is the absolute path of the PEM file with the CA to trust for Server.
	CA string `json:"ca,omitempty"`
}

// sources holds the values that one configuration layer (flags, environment,
// config file) sets; empty means "not set by this layer".
type sources struct {
	Server, Token, CA string
}

// settings is the resolved configuration of one invocation.
type settings struct {
	server serverAddr
	token  string
	ca     string
}

// resolveSettings applies the precedence flag > env > config file > default.
// The file's token and CA belong to the file's server: they are used only when
// the resolved server is that server, so a token is never sent to a server
// other than the one that issued it.
func resolveSettings(flag, env sources, file fileConfig) (settings, error) {
	raw := firstSet(flag.Server, env.Server, file.Server, defaultServer)
	server, err := parseServer(raw)
	if err != nil {
		return settings{}, err
	}
	fileApplies := file.Server == ""
	if !fileApplies {
		if fileServer, err := parseServer(file.Server); err == nil && fileServer == server {
			fileApplies = true
		}
	}
	s := settings{server: server, token: firstSet(flag.Token, env.Token), ca: firstSet(flag.CA, env.CA)}
	if fileApplies {
		s.token = firstSet(s.token, file.Token)
		s.ca = firstSet(s.ca, file.CA)
	}
	return s, nil
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// serverAddr is berthd's TLS address.
type serverAddr struct {
	host string // without brackets for IPv6
	port string
}

// target is the gRPC dial target, "host:port".
func (s serverAddr) target() string { return net.JoinHostPort(s.host, s.port) }

// String returns the address as a URL, "https://host:port".
func (s serverAddr) String() string { return "https://" + s.target() }

// parseServer accepts "https://host:port", "host:port", or either without a
// port (then 443, as in a browser). berthd only speaks TLS, so http:// is refused.
func parseServer(raw string) (serverAddr, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return serverAddr{}, errors.New("server address is empty: set --server or BERTH_SERVER, e.g. https://localhost:8443")
	}
	hostport := s
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		u, err := url.Parse(s)
		if err != nil {
			return serverAddr{}, fmt.Errorf("server %q: %w", raw, err)
		}
		switch strings.ToLower(scheme) {
		case "https":
		case "http":
			return serverAddr{}, fmt.Errorf("server %q: berthd only speaks TLS: use https://%s", raw, u.Host)
		default:
			return serverAddr{}, fmt.Errorf("server %q: unsupported scheme %q: use https://host:port", raw, scheme)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return serverAddr{}, fmt.Errorf("server %q: want only https://host:port, without user, path or query", raw)
		}
		hostport = u.Host
	} else if strings.ContainsAny(s, "/?#@") {
		return serverAddr{}, fmt.Errorf("server %q: want https://host:port or host:port", raw)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: a bare host name or IP address, possibly a bracketed IPv6 one.
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), "443"
		if strings.Contains(hostport, ":") && !strings.HasPrefix(hostport, "[") {
			return serverAddr{}, fmt.Errorf("server %q: %w", raw, err)
		}
	}
	if host == "" {
		return serverAddr{}, fmt.Errorf("server %q: missing host name", raw)
	}
	if net.ParseIP(host) == nil && strings.IndexFunc(host, notHostNameRune) >= 0 {
		return serverAddr{}, fmt.Errorf("server %q: invalid host name %q", raw, host)
	}
	if p, ok := parsePort(port); !ok || p == 0 {
		return serverAddr{}, fmt.Errorf("server %q: invalid port %q", raw, port)
	}
	return serverAddr{host: strings.ToLower(host), port: port}, nil
}

func notHostNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
}

func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

// configPath returns the config file to use: --config, else BERTH_CONFIG,
// else $XDG_CONFIG_HOME/berth/config.json, else ~/.config/berth/config.json.
func configPath(flag string, getenv func(string) string) (string, error) {
	if p := firstSet(flag, getenv("BERTH_CONFIG")); p != "" {
		return p, nil
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "berth", "config.json"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "berth", "config.json"), nil
	}
	return "", errors.New("cannot find the config file: HOME is not set; pass --config or set BERTH_CONFIG")
}

// loadConfig reads the config file at path. A missing file is an empty config.
func loadConfig(path string) (fileConfig, error) {
	var c fileConfig
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w (fix or delete it, then run `berth login`)", path, err)
	}
	return c, nil
}

// writeConfig replaces the config file at path atomically: it writes a
// temporary file with mode 0600 in the same directory (created 0700), syncs
// it, and renames it over the old one, so a reader sees either the old or the
// new file and the token is never readable by others.
func writeConfig(path string, c fileConfig) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.json.tmp")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
