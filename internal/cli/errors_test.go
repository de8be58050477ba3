package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorMessage(t *testing.T) {
	ec := errContext{server: "https://localhost:8443", timeout: 30 * time.Second}
	tests := []struct {
		name string
		err  error
		ec   errContext
		want string
	}{
		{
			name: "connection refused",
			err:  status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:8443: connect: connection refused"`),
			want: "error: berthd at https://localhost:8443 is not reachable: connection refused — is it running? set --server or BERTH_SERVER",
		},
		{
			name: "unknown authority",
			err:  status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`),
			want: "error: berthd at https://localhost:8443: certificate is not trusted: pass --ca DATA/ca.pem (or BERTH_CA)",
		},
		{
			name: "unknown authority with a CA given",
			err:  status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`),
			ec:   errContext{server: "https://localhost:8443", ca: "old-ca.pem"},
			want: "error: berthd at https://localhost:8443: certificate is not trusted by old-ca.pem: pass berthd's DATA/ca.pem as --ca (or BERTH_CA)",
		},
		{
			name: "host name mismatch",
			err:  status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate is valid for berth.internal, not localhost"`),
			want: "error: berthd at https://localhost:8443: certificate does not match the host name (x509: certificate is valid for berth.internal, not localhost): use a host name in --server that the certificate is valid for",
		},
		{
			name: "plain text server",
			err:  status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`),
			want: "error: berthd at https://localhost:8443 did not answer with TLS: is --server the berthd port (default 8443)?",
		},
		{
			name: "unknown host",
			err:  status.Error(codes.Unavailable, `name resolver error: produced zero addresses`),
			want: "error: berthd at https://localhost:8443 is not reachable: host not found — check --server or BERTH_SERVER",
		},
		{
			name: "other unavailable",
			err:  status.Error(codes.Unavailable, "server is shutting down"),
			want: "error: berthd at https://localhost:8443 is not reachable: server is shutting down (Unavailable)",
		},
		{
			name: "unauthenticated",
			err:  status.Error(codes.Unauthenticated, "token expired"),
			want: "error: token expired (run `berth login` or check --token)",
		},
		{
			name: "deadline",
			err:  status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			want: "error: berthd at https://localhost:8443 did not answer within 30s: raise --timeout, or check that it is healthy",
		},
		{
			name: "not found",
			err:  status.Error(codes.NotFound, `site "site_x" not found`),
			want: `error: site "site_x" not found (NotFound)`,
		},
		{
			name: "invalid argument",
			err:  status.Error(codes.InvalidArgument, `domain "exa mple.com": spaces are not allowed in a host name`),
			want: `error: domain "exa mple.com": spaces are not allowed in a host name (InvalidArgument)`,
		},
		{
			name: "permission denied",
			err:  status.Error(codes.PermissionDenied, "admin only"),
			want: "error: admin only (PermissionDenied)",
		},
		{
			name: "canceled",
			err:  status.Error(codes.Canceled, "context canceled"),
			want: "error: interrupted",
		},
		{
			name: "context canceled",
			err:  fmt.Errorf("read password: %w", context.Canceled),
			want: "error: interrupted",
		},
		{
			name: "no token",
			err:  errNoToken,
			want: "error: no API token: run `berth login`, or set --token / BERTH_TOKEN",
		},
		{
			name: "plain error",
			err:  errors.New("site site_x still PENDING after 10m; follow with `berth site watch site_x`"),
			want: "error: site site_x still PENDING after 10m; follow with `berth site watch site_x`",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ec
			if tt.ec != (errContext{}) {
				c = tt.ec
			}
			if got := errorMessage(tt.err, c); got != tt.want {
				t.Errorf("errorMessage:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute:  "10m",
		90 * time.Minute:  "1h30m",
		2 * time.Hour:     "2h",
		45 * time.Second:  "45s",
		150 * time.Second: "2m30s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
