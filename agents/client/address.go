package client

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// joinTokenPrefix starts every join token; see ParseJoinToken.
const joinTokenPrefix = "berthjoin_"

// ServerAddress turns "https://host:port", "host:port" or "host" into the
// address to dial and the host name the server certificate must match.
func ServerAddress(s string) (addr, host string, err error) {
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

// ParseJoinToken splits "berthjoin_<43 base62>.<64 hex>" into the secret
// sent to berthd and the SHA-256 of berthd's CA certificate.
func ParseJoinToken(token string) (secret string, caHash []byte, err error) {
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
