package validate

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkErr fails t unless err is an *Error for field whose message contains
// every string in want. want == nil means err must be nil.
func checkErr(t *testing.T, field string, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is %T, want *Error", err, err)
	}
	if ve.Field != field {
		t.Errorf("Field = %q, want %q", ve.Field, field)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, field+" ") && !strings.HasPrefix(msg, field+": ") {
		t.Errorf("error %q does not start with the field name %q", msg, field)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
}

// ok and bad are want values for checkErr.
var ok []string

func bad(want ...string) []string { return append([]string{}, want...) }

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"value", &Error{Field: "domain", Value: "exa mple.com", Msg: "spaces are not allowed in a host name"},
			`domain "exa mple.com": spaces are not allowed in a host name`},
		{"no value", &Error{Field: "password", Msg: "too short"}, "password: too short"},
		{"escapes bidi and control", &Error{Field: "name", Value: "a\u202eb\n", Msg: "m"}, `name "a\u202eb\n": m`},
		{"long value is cut", &Error{Field: "f", Value: strings.Repeat("ü", 100), Msg: "m"},
			`f "` + strings.Repeat("ü", 40) + `…": m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDomain(t *testing.T) {
	tests := []struct {
		in   string
		want string   // normalized result when err is nil
		err  []string // substrings of the error; nil means valid
	}{
		{in: "example.com", want: "example.com"},
		{in: "Example.COM", want: "example.com"},
		{in: "example.com.", want: "example.com"},
		{in: "www.sub.example.co.uk", want: "www.sub.example.co.uk"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "BÜCHER.example", want: "xn--bcher-kva.example"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{in: "XN--BCHER-KVA.EXAMPLE", want: "xn--bcher-kva.example"},
		{in: "münchen.de.", want: "xn--mnchen-3ya.de"},
		{in: "例え.テスト", want: "xn--r8jz45g.xn--zckzah"},
		{in: "ｅｘａｍｐｌｅ．ｃｏｍ", want: "example.com"}, // full-width forms map to ASCII
		{in: "blog.localhost", want: "blog.localhost"},
		{in: "app.test", want: "app.test"},
		{in: "db.internal", want: "db.internal"},
		{in: "a-b.example.com", want: "a-b.example.com"},
		{in: "123.example.com", want: "123.example.com"},
		{in: "example.com1", want: "example.com1"},
		{in: strings.Repeat("a", 63) + ".com", want: strings.Repeat("a", 63) + ".com"},
		{in: long253(), want: long253()},

		{in: "", err: bad("required")},
		{in: "exa mple.com", err: bad(`"exa mple.com"`, "spaces are not allowed in a host name")},
		{in: " example.com", err: bad("leading and trailing spaces")},
		{in: "example.com\n", err: bad("leading and trailing spaces")},
		{in: "example.com\t.x", err: bad("spaces are not allowed")},
		{in: "exam\x00ple.com", err: bad("control characters")},
		{in: "https://example.com/", err: bad("give the host name only, without https:// or a path")},
		{in: "example.com/path", err: bad("without https:// or a path")},
		{in: `example.com\..\x`, err: bad("without https:// or a path")},
		{in: "example.com?a=b", err: bad("without https:// or a path")},
		{in: "example.com:80", err: bad(`remove the port ":80"`)},
		{in: "example.com:", err: bad("colons are not allowed")},
		{in: "a:b:c", err: bad("colons are not allowed")},
		{in: "user@example.com", err: bad("without a user name")},
		{in: "1.2.3.4", err: bad("use a domain name, not an IP address")},
		{in: "1.2.3.4:443", err: bad("not an IP address")},
		{in: "::1", err: bad("not an IP address")},
		{in: "[::1]", err: bad("not an IP address")},
		{in: "[2001:db8::1]:443", err: bad("not an IP address")},
		{in: "fe80::1%eth0", err: bad("not an IP address")},
		{in: "1.2.3.4.", err: bad("not an IP address")},
		{in: "1.2.3.4.5", err: bad("not an IP address")},
		{in: "example.0x1f", err: bad("not an IP address")},
		{in: "１２７.０.０.１", err: bad("not an IP address")},
		{in: "*.example.com", err: bad("wildcard domains are not supported")},
		{in: "localhost", err: bad("single-label", `"app.localhost"`)},
		{in: "intranet", err: bad("single-label", `"intranet.example.com"`)},
		{in: "localhost.", err: bad("single-label")},
		{in: "bücher", err: bad("single-label")},
		{in: "a..b", err: bad("empty labels")},
		{in: ".example.com", err: bad("empty labels")},
		{in: "example.com..", err: bad("empty labels")},
		{in: ".", err: bad("empty labels")},
		{in: "-a.example.com", err: bad(`label "-a"`, "hyphen")},
		{in: "a-.example.com", err: bad(`label "a-"`, "hyphen")},
		{in: "ab--cd.example.com", err: bad(`"--"`, "punycode")},
		{in: "my_site.example.com", err: bad("underscores are not allowed")},
		{in: "exa!mple.com", err: bad(`character '!'`)},
		{in: "exa%2emple.com", err: bad(`character '%'`)},
		{in: strings.Repeat("a", 64) + ".com", err: bad("too long", "at most 63")},
		{in: long253() + "a", err: bad("too long", "at most 253")},
		{in: strings.Repeat("a.", 600) + "com", err: bad("too long")},
		{in: "exa\u202emple.com", err: bad("invisible character U+202E")},
		{in: "exa\u00admple.com", err: bad("invisible character U+00AD")},
		{in: "exa\u200bmple.com", err: bad("invisible character U+200B")},
		{in: "exa\xffmple.com", err: bad("UTF-8")},
		{in: "xn--abc.example", err: bad("not a valid host name")}, // punycode decodes to ASCII
		{in: "xn--.example", err: bad("hyphen")},
		{in: "xn--bcher-kva\u3002example", want: "xn--bcher-kva.example"}, // ideographic full stop is a dot
		{in: "\u05d0\u05d1.example", want: "xn--4dbc.example"},            // Hebrew label, RTL
		{in: "a\u05d0.example", err: bad("not a valid host name")},        // Bidi rule: mixed direction
		{in: "a\u0300b.example", want: "xn--b-rfa.example"},               // NFC: "àb"
		{in: "\u0300b.example", err: bad("not a valid host name")},        // leading combining mark
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Domain("primary_domain", tt.in)
			checkErr(t, "primary_domain", err, tt.err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Domain(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if err == nil {
				again, err := Domain("primary_domain", got)
				if err != nil || again != got {
					t.Errorf("Domain(%q) = %q, %v; want it unchanged", got, again, err)
				}
			}
		})
	}
}

// long253 returns a valid 253-octet host name.
func long253() string {
	l := strings.Repeat("a", 63)
	return l + "." + l + "." + l + "." + strings.Repeat("b", 61) // 63*3 + 61 + 3 dots
}

func TestSlug(t *testing.T) {
	tests := []struct {
		in  string
		err []string
	}{
		{"acme", ok},
		{"ab", ok},
		{"acme-corp-2", ok},
		{strings.Repeat("a", 40), ok},

		{"", bad("must not be empty")},
		{"a", bad("too short")},
		{"Acme", bad(`slug "Acme": use lowercase letters, digits and hyphens, e.g. "acme"`)},
		{"Acme Corp", bad(`e.g. "acme-corp"`)},
		{"acme_corp", bad(`e.g. "acme-corp"`)},
		{"../etc", bad("use lowercase letters", `e.g. "etc"`)},
		{"acme/x", bad("use lowercase letters")},
		{"acme\x00", bad("use lowercase letters")},
		{"bücher", bad("use lowercase letters")},
		{"1acme", bad("must start with a letter")},
		{"-acme", bad("must start with a letter")},
		{"acme-", bad("must not end with a hyphen")},
		{"ac--me", bad(`must not contain "--"`)},
		{strings.Repeat("a", 41), bad("too long", "at most 40")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkErr(t, "slug", Slug("slug", tt.in), tt.err)
		})
	}
}

func TestSiteName(t *testing.T) {
	tests := []struct {
		in  string
		err []string
	}{
		{"w", ok},
		{"wordpress", ok},
		{"blog-2", ok},
		{strings.Repeat("s", 40), ok},

		{"", bad("must not be empty")},
		{"Blog", bad(`e.g. "blog"`)},
		{"blog.old", bad("use lowercase letters")},
		{"..", bad("use lowercase letters")},
		{"a/b", bad("use lowercase letters")},
		{"a b", bad("use lowercase letters")},
		{"2blog", bad("must start with a letter")},
		{"blog-", bad("must not end with a hyphen")},
		{"a--b", bad(`"--"`)},
		{strings.Repeat("s", 41), bad("at most 40")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkErr(t, "name", SiteName("name", tt.in), tt.err)
		})
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		in  string
		err []string
	}{
		{"A", ok},
		{"Acme Corp.", ok},
		{"Bücherstube Müller & Söhne", ok},
		{"東京の店", ok},
		{"مرحبا", ok},
		{"Ada's  \"Shop\" <3", ok},
		{strings.Repeat("ü", 100), ok},

		{"", bad("must not be empty")},
		{" Acme", bad("leading and trailing spaces")},
		{"Acme\u00a0", bad("leading and trailing spaces")},
		{"Acme\n", bad("leading and trailing spaces")},
		{"Ac\nme", bad("control character U+000A")},
		{"Ac\x00me", bad("control character U+0000")},
		{"Ac\tme", bad("control character U+0009")},
		{"Ac\x7fme", bad("control character U+007F")},
		{"evil\u202egnp.exe", bad("text-direction character U+202E")},
		{"a\u202ab", bad("U+202A")},
		{"a\u2066b", bad("U+2066")},
		{"a\u2069b", bad("U+2069")},
		{"a\u200bb", bad("U+200B")},
		{"a\u200fb", bad("U+200F")},
		{"a\ufeffb", bad("U+FEFF")},
		{"a\u2028b", bad("U+2028")},
		{"a\xffb", bad("UTF-8")},
		{strings.Repeat("ü", 101), bad("at most 100")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkErr(t, "display_name", DisplayName("display_name", tt.in), tt.err)
		})
	}
}

func TestEmail(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  []string
	}{
		{in: "ada@example.com", want: "ada@example.com"},
		{in: "Ada.Lovelace@Example.COM", want: "Ada.Lovelace@example.com"},
		{in: "  ada@example.com\n", want: "ada@example.com"},
		{in: "ada+tag@sub.example.co.uk", want: "ada+tag@sub.example.co.uk"},
		{in: "ada@bücher.example", want: "ada@xn--bcher-kva.example"},
		{in: "ada@blog.localhost", want: "ada@blog.localhost"},
		{in: strings.Repeat("a", 64) + "@example.com", want: strings.Repeat("a", 64) + "@example.com"},

		{in: "", err: bad("required")},
		{in: "   ", err: bad("required")},
		{in: "Ada <ada@example.com>", err: bad(`give the address only, e.g. "ada@example.com"`)},
		{in: "<ada@example.com>", err: bad("give the address only")},
		{in: "ada@example.com (Ada)", err: bad("give the address only")},
		{in: `"ada"@example.com`, err: bad("quoted local parts")},
		{in: "ada", err: bad("not an e-mail address")},
		{in: "ada@", err: bad("not an e-mail address")},
		{in: "@example.com", err: bad("not an e-mail address")},
		{in: "ada@@example.com", err: bad("not an e-mail address")},
		{in: "a da@example.com", err: bad("not an e-mail address")},
		{in: "ada@localhost", err: bad("after @", "single-label")},
		{in: "ada@[127.0.0.1]", err: bad("after @", "IP address")},
		{in: "ada@1.2.3.4", err: bad("after @", "IP address")},
		{in: "ada@exa_mple.com", err: bad("not a valid domain")},
		{in: "ada@-example.com", err: bad("after @", "hyphen")},
		{in: "ada\x00@example.com", err: bad("U+0000")},
		{in: "ada\u202e@example.com", err: bad("U+202E")},
		{in: "ada@example.com\r\nBcc: x@example.com", err: bad("U+000D")},
		{in: "a\xff@example.com", err: bad("UTF-8")},
		{in: strings.Repeat("a", 65) + "@example.com", err: bad("before @", "at most 64")},
		{in: "a@" + strings.Repeat("b", 250) + ".com", err: bad("too long")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Email("email", tt.in)
			checkErr(t, "email", err, tt.err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Email(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if err == nil {
				again, err := Email("email", got)
				if err != nil || again != got {
					t.Errorf("Email(%q) = %q, %v; want it unchanged", got, again, err)
				}
			}
		})
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  []string
	}{
		{"12 chars", "correcthorse", ok},
		{"spaces and symbols", "correct horse battery staple!", ok},
		{"unicode counts runes", "pässwörtчик!", ok},
		{"256 runes", strings.Repeat("ü", 256), ok},

		{"empty", "", bad("at least 12")},
		{"11 chars", "correcthors", bad("too short", "at least 12")},
		{"257 runes", strings.Repeat("ü", 257), bad("too long", "at most 256")},
		{"newline", "correcthorse\n", bad("control characters")},
		{"NUL", "correct\x00horse", bad("control characters")},
		{"invalid UTF-8", "correcthorse\xff", bad("UTF-8")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Password("password", tt.in)
			checkErr(t, "password", err, tt.err)
			if err != nil && tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}

func TestMemoryMiB(t *testing.T) {
	tests := []struct {
		in  int32
		err []string
	}{
		{64, ok},
		{512, ok},
		{65536, ok},
		{63, bad("memory must be between 64 and 65536 MiB", "got 63")},
		{0, bad("between 64 and 65536")},
		{-1, bad("between 64 and 65536")},
		{65537, bad("between 64 and 65536")},
		{1 << 30, bad("between 64 and 65536")},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(int(tt.in)), func(t *testing.T) {
			checkErr(t, "memory_mib", MemoryMiB("memory_mib", tt.in), tt.err)
		})
	}
}

func TestCPUMillicores(t *testing.T) {
	tests := []struct {
		in  int32
		err []string
	}{
		{50, ok},
		{1000, ok},
		{64000, ok},
		{49, bad("CPU must be between 50 and 64000 millicores", "got 49")},
		{0, bad("between 50 and 64000")},
		{-50, bad("between 50 and 64000")},
		{64001, bad("between 50 and 64000")},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(int(tt.in)), func(t *testing.T) {
			checkErr(t, "cpu_millicores", CPUMillicores("cpu_millicores", tt.in), tt.err)
		})
	}
}

func TestTokenName(t *testing.T) {
	tests := []struct {
		in  string
		err []string
	}{
		{"ci", ok},
		{"x", ok},
		{"GitHub Actions deploy_2.0-beta", ok},
		{strings.Repeat("T", 64), ok},

		{"", bad("must not be empty")},
		{" ci", bad("leading and trailing spaces")},
		{"ci ", bad("leading and trailing spaces")},
		{"ci/cd", bad("use letters, digits, spaces")},
		{"ci\tcd", bad("use letters, digits, spaces")},
		{"ci\x00", bad("use letters, digits, spaces")},
		{"cï", bad("use letters, digits, spaces")},
		{"a\u202eb", bad("use letters, digits, spaces")},
		{strings.Repeat("T", 65), bad("at most 64")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkErr(t, "token_name", TokenName("token_name", tt.in), tt.err)
		})
	}
}

func TestID(t *testing.T) {
	const valid = "01jd3m5kq8x7w2c9v4r6t0yzab"
	tests := []struct {
		name   string
		prefix string
		in     string
		err    []string
	}{
		{"site", "site", "site_" + valid, ok},
		{"node", "node", "node_" + strings.Repeat("z", 26), ok},
		{"all digits", "tok", "tok_" + strings.Repeat("0", 26), ok},

		{"empty", "site", "", bad("site_id: not a site id (ids look like site_01jd...)")},
		{"short", "site", "x", bad(`site_id "x": not a site id (ids look like site_01jd...)`)},
		{"wrong prefix", "site", "node_" + valid, bad("not a site id")},
		{"no underscore", "site", "site" + valid, bad("not a site id")},
		{"25 chars", "site", "site_" + valid[:25], bad("not a site id")},
		{"27 chars", "site", "site_" + valid + "a", bad("not a site id")},
		{"upper case", "site", "site_" + strings.ToUpper(valid), bad("not a site id")},
		{"letter i not in alphabet", "site", "site_" + valid[:25] + "i", bad("not a site id")},
		{"letter l", "site", "site_" + valid[:25] + "l", bad("not a site id")},
		{"letter o", "site", "site_" + valid[:25] + "o", bad("not a site id")},
		{"letter u", "site", "site_" + valid[:25] + "u", bad("not a site id")},
		{"traversal", "site", "site_../../../../etc/passwd", bad("not a site id")},
		{"NUL", "site", "site_" + valid[:25] + "\x00", bad("not a site id")},
		{"bad prefix", "../x", "../x_" + valid, bad("cannot check ids")},
		{"empty prefix", "", "_" + valid, bad("cannot check ids")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, "site_id", ID("site_id", tt.prefix, tt.in), tt.err)
		})
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct {
		in  string
		err []string
	}{
		{"a", ok},
		{"0", ok},
		{"wordpress-6.4_php8.2", ok},
		{"v1.", ok},
		{strings.Repeat("a", 128), ok},

		{"", bad("must not be empty")},
		{".", bad("must start with a letter or digit")},
		{"..", bad("must start with a letter or digit")},
		{".hidden", bad("must start with a letter or digit")},
		{"-rf", bad("must start with a letter or digit")},
		{"_x", bad("must start with a letter or digit")},
		{"a..b", bad(`must not contain ".."`)},
		{"a/b", bad("use lowercase letters")},
		{"../etc", bad("use lowercase letters")},
		{"a\\b", bad("use lowercase letters")},
		{"a b", bad("use lowercase letters")},
		{"A", bad("use lowercase letters")},
		{"a\x00", bad("use lowercase letters")},
		{"a=b", bad("use lowercase letters")},
		{strings.Repeat("a", 129), bad("at most 128")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkErr(t, "label", LabelValue("label", tt.in), tt.err)
		})
	}
}
