package controlplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/pki"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// TestServerCertificateRenews serves berthd's TLS configuration on a real
// listener and moves its clock: the certificate from berthd's CA stays the
// same until 30 days before it expires, is then replaced on the next new
// connection by one valid for 90 days more, which verifies against the CA at
// that time, and is not reissued on every handshake. A berthd that nobody
// connected to until after its certificate expired serves a valid one too.
func TestServerCertificateRenews(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := &clock{now: t0}
	ca, _, err := pki.LoadOrCreateCA(t.TempDir(), t0)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := newCertSource(ca, []string{"localhost", "127.0.0.1"}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: certs.tlsConfig(), ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(lis, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})

	// serial connects anew, as a client whose clock is berthd's, verifying
	// berthd's certificate against the CA, and returns the certificate's
	// serial number and expiry.
	serial := func(step string) (string, time.Time) {
		t.Helper()
		tr := &http.Transport{DisableKeepAlives: true, ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Time: clk.Now}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(fmt.Sprintf("https://%s/", lis.Addr()))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		chain := resp.TLS.PeerCertificates
		if len(chain) != 2 || !chain[1].Equal(ca.Certificate()) {
			t.Errorf("%s: berthd sent %d certificates, want its own and the CA's", step, len(chain))
		}
		return chain[0].SerialNumber.String(), chain[0].NotAfter
	}
	const day = 24 * time.Hour
	first, expiry := serial("at start")
	if want := t0.Add(90 * day); !expiry.Equal(want) {
		t.Fatalf("first certificate expires %v, want %v", expiry, want)
	}

	clk.Set(expiry.Add(-renewBefore - time.Hour)) // 30 days and an hour left
	if got, _ := serial("31 days before expiry"); got != first {
		t.Errorf("the certificate was replaced with more than 30 days left")
	}

	renewAt := expiry.Add(-renewBefore + time.Hour) // 30 days less an hour left
	clk.Set(renewAt)
	second, expiry2 := serial("29 days before expiry")
	if second == first {
		t.Fatalf("the certificate was not replaced with less than 30 days left")
	}
	if want := renewAt.Add(90 * day); !expiry2.Equal(want) {
		t.Errorf("renewed certificate expires %v, want %v", expiry2, want)
	}
	clk.Set(renewAt.Add(time.Hour))
	if got, _ := serial("an hour after renewal"); got != second {
		t.Errorf("the certificate was replaced again an hour after its renewal")
	}

	// Long after the renewed one expired, with no connection meanwhile.
	clk.Set(expiry2.Add(10 * day))
	if third, _ := serial("after expiry"); third == second {
		t.Errorf("an expired certificate was served")
	}
}
