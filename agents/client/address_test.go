package client

import (
	"strings"
	"testing"
)

var goodToken = "berthjoin_" + strings.Repeat("0aZ", 14) + "9." +
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestServerAddress(t *testing.T) {
	for _, tc := range []struct{ in, addr, host string }{
		{"https://berth.example:9443", "berth.example:9443", "berth.example"},
		{"https://berth.example", "berth.example:8443", "berth.example"},
		{"https://berth.example/", "berth.example:8443", "berth.example"},
		{"berth.example:9443", "berth.example:9443", "berth.example"},
		{"berth.example", "berth.example:8443", "berth.example"},
		{"127.0.0.1:18443", "127.0.0.1:18443", "127.0.0.1"},
		{"https://[::1]:18443", "[::1]:18443", "::1"},
	} {
		addr, host, err := ServerAddress(tc.in)
		if err != nil || addr != tc.addr || host != tc.host {
			t.Errorf("ServerAddress(%q) = %q, %q, %v; want %q, %q", tc.in, addr, host, err, tc.addr, tc.host)
		}
	}
}

func TestParseJoinToken(t *testing.T) {
	secret, hash, err := ParseJoinToken(goodToken)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Split(goodToken, ".")[0]; secret != want {
		t.Errorf("secret = %q, want %q", secret, want)
	}
	if len(hash) != 32 || hash[0] != 0x00 || hash[1] != 0x11 || hash[31] != 0xff {
		t.Errorf("hash = %x", hash)
	}
}
