package validate

import (
	"errors"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// trickySeeds are inputs that every string validator gets as fuzz seeds:
// path traversal, NUL and control characters, bidi overrides, Unicode that
// maps to ASCII, IP addresses, URLs and very long input.
var trickySeeds = []string{
	"",
	".",
	"..",
	"../etc/passwd",
	`..\..\windows`,
	"a/../b",
	"acme\x00",
	"\x00",
	"a\nb",
	"a\r\nb",
	" acme ",
	"Acme",
	"ACME.COM",
	"acme--corp",
	"-acme",
	"acme-",
	"evil\u202egnp.exe",
	"a\u2066b\u2069",
	"a\u200bb",
	"\ufeffacme",
	"bücher.example",
	"xn--bcher-kva.example",
	"ｅｘａｍｐｌｅ．ｃｏｍ",
	"１２７.０.０.１",
	"a\u3002b",
	"İstanbul.example",
	"ß.example",
	"\u05d0\u05d1.example",
	"127.0.0.1",
	"0x7f.1",
	"example.0x1f",
	"1.2.3.4.5",
	"::1",
	"[::1]:443",
	"::ffff:1.2.3.4",
	"fe80::1%eth0",
	"https://example.com/",
	"example.com:80",
	"*.example.com",
	"localhost",
	"blog.localhost",
	"example.com.",
	"a..b",
	"my_site.example.com",
	"ada@example.com",
	"Ada <ada@example.com>",
	"site_01jd3m5kq8x7w2c9v4r6t0yzab",
	"site_01JD3M5KQ8X7W2C9V4R6T0YZAB",
	"correct horse battery staple",
	"\xff\xfe",
	strings.Repeat("a", 64) + ".com",
	strings.Repeat("a.", 127) + "com",
	strings.Repeat("ü", 300),
	strings.Repeat("A", 5000),
}

var (
	hostRE        = regexp.MustCompile(`^[a-z0-9.-]+$`)
	dockerSegRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	tokenNameRE   = regexp.MustCompile(`^[A-Za-z0-9 ._-]{1,64}$`)
	lowerSlugRE   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	idSuffixRE    = regexp.MustCompile(`^[0-9abcdefghjkmnpqrstvwxyz]{26}$`)
	upperOrSpaceF = func(r rune) bool { return unicode.IsUpper(r) || unicode.IsSpace(r) }
)

// checkFuzzErr fails t unless err is an *Error for field whose message starts
// with the field name.
func checkFuzzErr(t *testing.T, field string, err error) {
	t.Helper()
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is %T, want *Error", err, err)
	}
	if ve.Field != field || ve.Msg == "" {
		t.Fatalf("error %#v: want Field %q and a message", ve, field)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, field+" ") && !strings.HasPrefix(msg, field+": ") {
		t.Fatalf("error %q does not start with the field name", msg)
	}
}

// checkSafeSegment fails t unless s is safe as a Docker name segment, a
// label value and a single path segment.
func checkSafeSegment(t *testing.T, s string) {
	t.Helper()
	if strings.ContainsAny(s, "/\\\x00") || strings.Contains(s, "..") || strings.IndexFunc(s, upperOrSpaceF) >= 0 {
		t.Fatalf("accepted %q, which has a slash, NUL, \"..\", upper case or space", s)
	}
	if !dockerSegRE.MatchString(s) {
		t.Fatalf("accepted %q, which does not match %s", s, dockerSegRE)
	}
}

// checkHostInvariants fails t unless h is a normalized host name.
func checkHostInvariants(t *testing.T, h string) {
	t.Helper()
	if !hostRE.MatchString(h) || len(h) > maxDomain || strings.Contains(h, "..") {
		t.Fatalf("accepted host %q: want %s, at most %d octets, no \"..\"", h, hostRE, maxDomain)
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		t.Fatalf("accepted single-label host %q", h)
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabel || l[0] == '-' || l[len(l)-1] == '-' {
			t.Fatalf("accepted host %q with bad label %q", h, l)
		}
	}
	if _, err := netip.ParseAddr(h); err == nil || net.ParseIP(h) != nil {
		t.Fatalf("accepted IP address %q as a host", h)
	}
	if isNumericLabel(labels[len(labels)-1]) {
		t.Fatalf("accepted host %q with a numeric last label", h)
	}
}

func addSeeds(f *testing.F, extra ...string) {
	for _, s := range append(trickySeeds, extra...) {
		f.Add(s)
	}
}

func FuzzDomain(f *testing.F) {
	addSeeds(f, "Example.COM.", "münchen.de", "例え.テスト", "a\u0300b.example", "xn--.example", "ab--cd.example")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Domain("domain", s)
		if err != nil {
			checkFuzzErr(t, "domain", err)
			if out != "" {
				t.Fatalf("Domain(%q) = %q with error %v; want \"\"", s, out, err)
			}
			return
		}
		checkHostInvariants(t, out)
		again, err := Domain("domain", out)
		if err != nil || again != out {
			t.Fatalf("Domain(%q) = %q, but Domain(%q) = %q, %v", s, out, out, again, err)
		}
	})
}

func FuzzSlug(f *testing.F) {
	addSeeds(f, "acme", "ab", "acme-corp-2")
	f.Fuzz(func(t *testing.T, s string) {
		err := Slug("slug", s)
		if err != nil {
			checkFuzzErr(t, "slug", err)
			return
		}
		checkSafeSegment(t, s)
		if !lowerSlugRE.MatchString(s) || len(s) < minSlug || len(s) > maxSlug || strings.Contains(s, "--") || strings.HasSuffix(s, "-") {
			t.Fatalf("Slug accepted %q", s)
		}
	})
}

func FuzzSiteName(f *testing.F) {
	addSeeds(f, "w", "wordpress", "blog-2")
	f.Fuzz(func(t *testing.T, s string) {
		err := SiteName("name", s)
		if err != nil {
			checkFuzzErr(t, "name", err)
			return
		}
		checkSafeSegment(t, s)
		if !lowerSlugRE.MatchString(s) || len(s) > maxSiteName || strings.Contains(s, "--") || strings.HasSuffix(s, "-") {
			t.Fatalf("SiteName accepted %q", s)
		}
	})
}

func FuzzLabelValue(f *testing.F) {
	addSeeds(f, "wordpress-6.4_php8.2", "v1.", "a..b")
	f.Fuzz(func(t *testing.T, s string) {
		err := LabelValue("label", s)
		if err != nil {
			checkFuzzErr(t, "label", err)
			return
		}
		checkSafeSegment(t, s)
		if len(s) > maxLabelValue {
			t.Fatalf("LabelValue accepted %d bytes", len(s))
		}
	})
}

func FuzzID(f *testing.F) {
	for _, s := range trickySeeds {
		f.Add("site", s)
	}
	f.Add("site", "site_01jd3m5kq8x7w2c9v4r6t0yzab")
	f.Add("node", "node_zzzzzzzzzzzzzzzzzzzzzzzzzz")
	f.Add("..", ".._01jd3m5kq8x7w2c9v4r6t0yzab")
	f.Add("Site", "Site_01jd3m5kq8x7w2c9v4r6t0yzab")
	f.Add("", "_01jd3m5kq8x7w2c9v4r6t0yzab")
	f.Fuzz(func(t *testing.T, prefix, s string) {
		err := ID("id", prefix, s)
		if err != nil {
			checkFuzzErr(t, "id", err)
			return
		}
		checkSafeSegment(t, s)
		rest, ok := strings.CutPrefix(s, prefix+"_")
		if !ok || !idSuffixRE.MatchString(rest) {
			t.Fatalf("ID accepted %q for prefix %q", s, prefix)
		}
	})
}

func FuzzDisplayName(f *testing.F) {
	addSeeds(f, "Acme Corp.", "東京の店", "Ada's \"Shop\"")
	f.Fuzz(func(t *testing.T, s string) {
		err := DisplayName("display_name", s)
		if err != nil {
			checkFuzzErr(t, "display_name", err)
			return
		}
		if !utf8.ValidString(s) || strings.TrimSpace(s) != s || s == "" || utf8.RuneCountInString(s) > maxDisplayName {
			t.Fatalf("DisplayName accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || isInvisible(r) {
				t.Fatalf("DisplayName accepted %q with %U", s, r)
			}
		}
	})
}

func FuzzEmail(f *testing.F) {
	addSeeds(f, "Ada.Lovelace@Example.COM", " ada@example.com ", "ada@bücher.example", "ada@[127.0.0.1]",
		`"ada"@example.com`, "ada@example.com\r\nBcc: x@example.com", "a@b@example.com")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Email("email", s)
		if err != nil {
			checkFuzzErr(t, "email", err)
			if out != "" {
				t.Fatalf("Email(%q) = %q with error %v; want \"\"", s, out, err)
			}
			return
		}
		if len(out) > maxEmail || !utf8.ValidString(out) {
			t.Fatalf("Email(%q) = %q: too long or not UTF-8", s, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.IsSpace(r) || isInvisible(r) {
				t.Fatalf("Email(%q) = %q, which has %U", s, out, r)
			}
		}
		at := strings.LastIndexByte(out, '@')
		if at <= 0 || at > maxEmailLocal {
			t.Fatalf("Email(%q) = %q: bad local part", s, out)
		}
		checkHostInvariants(t, out[at+1:])
		again, err := Email("email", out)
		if err != nil || again != out {
			t.Fatalf("Email(%q) = %q, but Email(%q) = %q, %v", s, out, out, again, err)
		}
	})
}

func FuzzTokenName(f *testing.F) {
	addSeeds(f, "ci", "GitHub Actions deploy_2.0-beta")
	f.Fuzz(func(t *testing.T, s string) {
		err := TokenName("token_name", s)
		if err != nil {
			checkFuzzErr(t, "token_name", err)
			return
		}
		if !tokenNameRE.MatchString(s) || strings.TrimSpace(s) != s {
			t.Fatalf("TokenName accepted %q", s)
		}
	})
}

func FuzzPassword(f *testing.F) {
	addSeeds(f, "correcthorse", "pässwörtчик!")
	f.Fuzz(func(t *testing.T, s string) {
		err := Password("password", s)
		if err != nil {
			checkFuzzErr(t, "password", err)
			if ve := (*Error)(nil); errors.As(err, &ve) && ve.Value != "" {
				t.Fatalf("error %q repeats the password", err)
			}
			return
		}
		if n := utf8.RuneCountInString(s); !utf8.ValidString(s) || n < minPassword || n > maxPassword {
			t.Fatalf("Password accepted %q", s)
		}
		if strings.IndexFunc(s, unicode.IsControl) >= 0 {
			t.Fatalf("Password accepted %q with a control character", s)
		}
	})
}
