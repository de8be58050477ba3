package auth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

func TestNewToken(t *testing.T) {
	for _, prefix := range []string{TokenPrefix, JoinTokenPrefix} {
		t.Run(prefix, func(t *testing.T) {
			secret, hash := NewToken(prefix)
			if !strings.HasPrefix(secret, prefix) {
				t.Errorf("secret %q does not start with %q", secret, prefix)
			}
			body := strings.TrimPrefix(secret, prefix)
			if len(body) != 43 {
				t.Errorf("secret %q has %d characters after the prefix, want 43", secret, len(body))
			}
			for _, c := range body {
				if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
					t.Errorf("secret %q has the non-base62 character %q", secret, c)
				}
			}
			if !LooksLikeToken(secret, prefix) {
				t.Errorf("LooksLikeToken(%q, %q) = false, want true", secret, prefix)
			}
			if !bytes.Equal(hash, HashToken(secret)) {
				t.Errorf("NewToken's hash %x != HashToken(secret) %x", hash, HashToken(secret))
			}
			if len(hash) != 32 {
				t.Errorf("hash has %d bytes, want 32 (SHA-256)", len(hash))
			}
			other, otherHash := NewToken(prefix)
			if other == secret || bytes.Equal(otherHash, hash) {
				t.Errorf("two calls returned the same token %q", secret)
			}
		})
	}
}

func TestHashTokenDiffers(t *testing.T) {
	a, b := HashToken(TokenPrefix+strings.Repeat("a", 43)), HashToken(TokenPrefix+strings.Repeat("a", 42)+"b")
	if bytes.Equal(a, b) {
		t.Errorf("different secrets hash alike: %x", a)
	}
}

func TestLooksLikeToken(t *testing.T) {
	valid := TokenPrefix + strings.Repeat("aZ9", 14) + "x" // 43 characters
	tests := []struct {
		name   string
		s      string
		prefix string
		want   bool
	}{
		{"valid", valid, TokenPrefix, true},
		{"empty", "", TokenPrefix, false},
		{"prefix only", TokenPrefix, TokenPrefix, false},
		{"wrong prefix", "berty_" + valid[len(TokenPrefix):], TokenPrefix, false},
		{"no prefix", valid[len(TokenPrefix):], TokenPrefix, false},
		{"join token as API token", JoinTokenPrefix + valid[len(TokenPrefix):], TokenPrefix, false},
		{"API token as join token", valid, JoinTokenPrefix, false},
		{"upper-case prefix", "BERTH_" + valid[len(TokenPrefix):], TokenPrefix, false},
		{"one short", valid[:len(valid)-1], TokenPrefix, false},
		{"one long", valid + "a", TokenPrefix, false},
		{"hyphen", valid[:len(valid)-1] + "-", TokenPrefix, false},
		{"underscore", valid[:len(valid)-1] + "_", TokenPrefix, false},
		{"space", valid[:len(valid)-1] + " ", TokenPrefix, false},
		{"base64 padding", valid[:len(valid)-1] + "=", TokenPrefix, false},
		{"non-ASCII of the right byte length", valid[:len(valid)-2] + "é", TokenPrefix, false},
		{"NUL", valid[:len(valid)-1] + "\x00", TokenPrefix, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LooksLikeToken(tt.s, tt.prefix); got != tt.want {
				t.Errorf("LooksLikeToken(%q, %q) = %v, want %v", tt.s, tt.prefix, got, tt.want)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	const pw = "correct horse battery staple"
	hash, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string with the OWASP parameters", hash)
	}
	if strings.Contains(hash, pw) {
		t.Errorf("hash %q contains the password", hash)
	}
	if err := CheckPassword(hash, pw); err != nil {
		t.Errorf("CheckPassword(right password) = %v, want nil", err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", pw + " "} {
		if err := CheckPassword(hash, wrong); !errors.Is(err, ErrPasswordMismatch) {
			t.Errorf("CheckPassword(%q) = %v, want ErrPasswordMismatch", wrong, err)
		}
	}
	again, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if again == hash {
		t.Errorf("two hashes of one password are equal (%q): no salt?", hash)
	}
	if err := CheckPassword(again, pw); err != nil {
		t.Errorf("CheckPassword(second hash) = %v, want nil", err)
	}
}

func TestCheckPasswordMalformedHash(t *testing.T) {
	const pw = "correct horse battery staple"
	good, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=…, salt, hash
	join := func(p ...string) string { return strings.Join(p, "$") }
	tests := map[string]string{
		"empty":             "",
		"plain text":        pw,
		"bcrypt":            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":           join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"too few fields":    join("", "argon2id", parts[2], parts[3], parts[4]),
		"too many fields":   good + "$extra",
		"old version":       join("", "argon2id", "v=16", parts[3], parts[4], parts[5]),
		"no version":        join("", "argon2id", "v=", parts[3], parts[4], parts[5]),
		"garbled params":    join("", "argon2id", parts[2], "m=lots,t=2,p=1", parts[4], parts[5]),
		"salt not base64":   join("", "argon2id", parts[2], parts[3], "!!!!", parts[5]),
		"hash not base64":   join("", "argon2id", parts[2], parts[3], parts[4], "!!!!"),
		"empty hash":        join("", "argon2id", parts[2], parts[3], parts[4], ""),
		"padded base64 key": join("", "argon2id", parts[2], parts[3], parts[4], parts[5]+"="),
	}
	for name, encoded := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckPassword(encoded, pw)
			if err == nil {
				t.Fatalf("CheckPassword(%q) = nil, want an error", encoded)
			}
			if errors.Is(err, ErrPasswordMismatch) {
				t.Errorf("CheckPassword(%q) = %v: a malformed hash must not look like a wrong password", encoded, err)
			}
		})
	}
}

// clock is a settable fake clock for the limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                 { return c.t }
func (c *clock) advance(d time.Duration)        { c.t = c.t.Add(d) }
func newClock() *clock                          { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) String() string                 { return c.t.Format(time.RFC3339) }
func allowed(l *LoginLimiter, k ...string) bool { ok, _ := l.Allow(k...); return ok }

func TestLoginLimiterDefaults(t *testing.T) {
	c := newClock()
	l := NewLoginLimiter(LimiterOptions{Now: c.now})
	for i := range 5 {
		if ok, wait := l.Allow("email:a@x.test"); !ok {
			t.Fatalf("attempt %d refused (retry after %v), want 5 failures allowed", i+1, wait)
		}
		l.Fail("email:a@x.test")
		c.advance(time.Minute)
	}
	// Failures at 0..4 min; now is 5 min: the first expires at 15 min.
	ok, wait := l.Allow("email:a@x.test")
	if ok {
		t.Fatal("6th attempt allowed after 5 failures")
	}
	if wait != 10*time.Minute {
		t.Errorf("retryAfter = %v, want 10m (the default 15m window from the first failure)", wait)
	}
	if !allowed(l, "email:b@x.test") {
		t.Error("another key is refused")
	}
	if allowed(l, "email:b@x.test", "email:a@x.test") {
		t.Error("Allow of several keys passes although one is blocked")
	}
	c.advance(10*time.Minute - time.Nanosecond)
	if allowed(l, "email:a@x.test") {
		t.Error("allowed a moment before the first failure left the window")
	}
	c.advance(time.Nanosecond)
	if !allowed(l, "email:a@x.test") {
		t.Error("still refused when the first failure left the window")
	}
	// One failure more fills the window again; the next expiry is the second failure's.
	l.Fail("email:a@x.test")
	if ok, wait := l.Allow("email:a@x.test"); ok || wait != time.Minute {
		t.Errorf("Allow = %v, %v after refilling the window, want false, 1m", ok, wait)
	}
}

func TestLoginLimiter(t *testing.T) {
	const window = 10 * time.Minute
	c := newClock()
	l := NewLoginLimiter(LimiterOptions{MaxFailures: 3, Window: window, Now: c.now})
	const key, peer, other = "email:a@x.test", "peer:192.0.2.1", "email:b@x.test"

	for range 3 {
		l.Fail(key, peer)
	}
	c.advance(2 * time.Minute)
	type check struct {
		keys []string
		ok   bool
		wait time.Duration
	}
	checks := []check{
		{[]string{key}, false, window - 2*time.Minute},
		{[]string{peer}, false, window - 2*time.Minute},
		{[]string{other}, true, 0},
		{[]string{other, peer}, false, window - 2*time.Minute},
		{nil, true, 0},
	}
	for _, ch := range checks {
		ok, wait := l.Allow(ch.keys...)
		if ok != ch.ok || wait != ch.wait {
			t.Errorf("Allow(%q) at %v = %v, %v; want %v, %v", ch.keys, c, ok, wait, ch.ok, ch.wait)
		}
	}

	// Succeed clears one key only.
	l.Succeed(key)
	if !allowed(l, key) {
		t.Error("key refused after Succeed")
	}
	if allowed(l, peer) {
		t.Error("Succeed of one key cleared another")
	}
	// After Succeed the key starts from zero.
	l.Fail(key)
	l.Fail(key)
	if !allowed(l, key) {
		t.Error("key refused after 2 failures with MaxFailures 3")
	}

	// Failures expire after the window.
	c.advance(window - 2*time.Minute)
	if !allowed(l, peer) {
		t.Error("peer still refused after its failures left the window")
	}
	if !allowed(l, peer, key) {
		t.Error("refused after every failure left the window or stayed under the limit")
	}
}

func TestLoginLimiterWaitIsLongestOfKeys(t *testing.T) {
	c := newClock()
	l := NewLoginLimiter(LimiterOptions{MaxFailures: 1, Window: time.Hour, Now: c.now})
	l.Fail("a")
	c.advance(20 * time.Minute)
	l.Fail("b")
	ok, wait := l.Allow("a", "b")
	if ok || wait != time.Hour {
		t.Errorf("Allow(a, b) = %v, %v; want false, 1h (b's wait, the longer)", ok, wait)
	}
	ok, wait = l.Allow("a")
	if ok || wait != 40*time.Minute {
		t.Errorf("Allow(a) = %v, %v; want false, 40m", ok, wait)
	}
}

func TestMayAccessClient(t *testing.T) {
	const own, other = "cl_own", "cl_other"
	tests := []struct {
		name   string
		p      *Principal
		client string
		want   bool
	}{
		{"admin, any client", &Principal{Role: store.RoleAdmin}, other, true},
		{"admin, empty client", &Principal{Role: store.RoleAdmin}, "", true},
		{"client, own", &Principal{Role: store.RoleClient, ClientID: own}, own, true},
		{"client, other", &Principal{Role: store.RoleClient, ClientID: own}, other, false},
		{"client, empty id asked", &Principal{Role: store.RoleClient, ClientID: own}, "", false},
		{"client without client id, empty id asked", &Principal{Role: store.RoleClient}, "", false},
		{"client without client id, some client", &Principal{Role: store.RoleClient}, own, false},
		{"unknown role", &Principal{Role: "owner", ClientID: own}, own, false},
		{"no role", &Principal{ClientID: own}, own, false},
		{"nil principal", nil, own, false},
		{"nil principal, empty id", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.MayAccessClient(tt.client); got != tt.want {
				t.Errorf("MayAccessClient(%q) = %v, want %v", tt.client, got, tt.want)
			}
		})
	}
}

func TestIsAdmin(t *testing.T) {
	tests := []struct {
		name string
		p    *Principal
		want bool
	}{
		{"admin", &Principal{Role: store.RoleAdmin}, true},
		{"client", &Principal{Role: store.RoleClient, ClientID: "cl_x"}, false},
		{"no role", &Principal{}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.IsAdmin(); got != tt.want {
				t.Errorf("IsAdmin() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestActor(t *testing.T) {
	tests := []struct {
		name string
		p    *Principal
		want string
	}{
		{"nil", nil, "anonymous"},
		{"user session", &Principal{Role: store.RoleClient, ClientID: "cl_1", UserID: "usr_1", Email: "ann@example.test", TokenID: "tok_1", TokenName: "session", TokenKind: store.TokenKindSession}, "user:ann@example.test (client)"},
		{"admin user", &Principal{Role: store.RoleAdmin, UserID: "usr_2", Email: "ops@agency.test", TokenID: "tok_2"}, "user:ops@agency.test (admin)"},
		{"API token", &Principal{Role: store.RoleAdmin, TokenID: "tok_3", TokenName: "ci deploy", TokenKind: store.TokenKindAPI}, `token:tok_3 "ci deploy" (admin)`},
		{"token name with quotes", &Principal{Role: store.RoleClient, ClientID: "cl_1", TokenID: "tok_4", TokenName: `a"b`}, `token:tok_4 "a\"b" (client)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Actor(); got != tt.want {
				t.Errorf("Actor() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPrincipalContext(t *testing.T) {
	if p := FromContext(context.Background()); p != nil {
		t.Errorf("FromContext(empty) = %+v, want nil", p)
	}
	want := &Principal{Role: store.RoleClient, ClientID: "cl_1", TokenID: "tok_1"}
	got := FromContext(WithPrincipal(context.Background(), want))
	if got != want {
		t.Errorf("FromContext(WithPrincipal(p)) = %p, want %p", got, want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
}

// TestAttemptIsAtomic sends parallel guesses: no more than the limit may pass.
func TestAttemptIsAtomic(t *testing.T) {
	l := NewLoginLimiter(LimiterOptions{MaxFailures: 5})
	var passed atomic.Int32
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _, _ := l.Attempt("email:a@x.test", "peer:127.0.0.1"); ok {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := passed.Load(); n != 5 {
		t.Errorf("%d of 30 parallel attempts passed, want 5", n)
	}
}

func TestAttemptUndo(t *testing.T) {
	l := NewLoginLimiter(LimiterOptions{MaxFailures: 2})
	for range 10 {
		ok, _, undo := l.Attempt("peer:x")
		if !ok {
			t.Fatal("attempt refused although every earlier one was undone")
		}
		undo()
	}
	l.Attempt("peer:x")
	l.Attempt("peer:x")
	if ok, _, _ := l.Attempt("peer:x"); ok {
		t.Error("third attempt without undo passed with MaxFailures 2")
	}
}

func TestCheckPasswordRejectsZeroCost(t *testing.T) {
	for _, h := range []string{
		"$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	} {
		if err := CheckPassword(h, "x"); err == nil || errors.Is(err, ErrPasswordMismatch) {
			t.Errorf("CheckPassword(%q) = %v, want a malformed-hash error", h, err)
		}
	}
}
