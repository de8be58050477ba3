package validate

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

const (
	maxDomain      = 253  // octets, without the trailing dot (RFC 1035)
	maxLabel       = 63   // octets per label (RFC 1035)
	maxDomainInput = 1024 // bytes of Unicode input; bounds the work idna does
)

// hostProfile is UTS #46 lookup processing with every check turned on: case
// and width mapping, NFC, STD3 ASCII rules, hyphen and joiner rules and the
// Bidi rule (RFC 5893). Lengths are checked by checkHost so that the messages
// can say which label is too long. A Profile is immutable.
var hostProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.BidiRule(),
)

// Domain checks that s is a host name a site can be served on and returns it
// normalized: lower case, IDNs converted to punycode ("bücher.example" becomes
// "xn--bcher-kva.example") and a single trailing dot removed.
//
// Domain rejects IP addresses, wildcards, ports, URLs, single-label names
// ("localhost"; "blog.localhost" and "app.test" are fine), underscores, empty
// labels, labels that start or end with a hyphen, a numeric last label and
// names longer than DNS allows. Leading or trailing space is an error, not
// trimmed. The result passes Domain unchanged.
func Domain(field, s string) (string, error) {
	if msg := checkDomainInput(s); msg != "" {
		return "", &Error{Field: field, Value: s, Msg: msg}
	}
	name := strings.TrimSuffix(s, ".") // FQDN form
	out, err := hostProfile.ToASCII(name)
	if err != nil {
		return "", &Error{Field: field, Value: s, Msg: fmt.Sprintf("not a valid host name (%v)", err)}
	}
	if msg := checkHost(out); msg != "" {
		return "", &Error{Field: field, Value: s, Msg: msg}
	}
	return out, nil
}

// checkDomainInput looks for the mistakes people make when they type a host
// name, before IDNA processing turns them into less helpful errors. It
// returns "" when s may go on to IDNA processing.
func checkDomainInput(s string) string {
	switch {
	case s == "":
		return "a host name is required, e.g. \"example.com\""
	case len(s) > maxDomainInput:
		return fmt.Sprintf("too long: a host name has at most %d characters", maxDomain)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "remove the leading and trailing spaces"
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/\\?#") {
		return "give the host name only, without https:// or a path"
	}
	if isIPLiteral(s) {
		return "use a domain name, not an IP address"
	}
	if strings.ContainsRune(s, '*') {
		return "wildcard domains are not supported; add each host name separately"
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			return "spaces are not allowed in a host name"
		case unicode.IsControl(r):
			return "control characters are not allowed in a host name"
		case unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d':
			// Invisible and text-direction characters (soft hyphen, bidi
			// overrides, BOM). UTS #46 would drop some of them silently.
			// ZWNJ and ZWJ are legitimate in some scripts; idna checks
			// their context.
			return fmt.Sprintf("invisible character %U is not allowed in a host name", r)
		}
	}
	if strings.ContainsRune(s, '@') {
		return "give the host name only, without a user name or @"
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if port := s[i+1:]; port != "" && strings.Trim(port, "0123456789") == "" && !strings.Contains(s[:i], ":") {
			return fmt.Sprintf("remove the port %q; give the host name only", s[i:])
		}
		return "colons are not allowed in a host name"
	}
	if strings.ContainsRune(s, '_') {
		return "underscores are not allowed in a host name; use hyphens instead"
	}
	for _, r := range s {
		if r < utf8.RuneSelf && !isLDH(byte(r)) && r != '.' && !('A' <= r && r <= 'Z') {
			return fmt.Sprintf("the character %q is not allowed in a host name; use letters, digits, hyphens and dots", r)
		}
	}
	name := strings.TrimSuffix(s, ".")
	for _, label := range strings.Split(name, ".") {
		if msg := checkLabelShape(label); msg != "" {
			return msg
		}
	}
	return ""
}

// isIPLiteral reports whether s is an IPv4 or IPv6 address, possibly in
// brackets and possibly with a port.
func isIPLiteral(s string) bool {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	_, err := netip.ParseAddr(s)
	return err == nil
}

// checkLabelShape checks the parts of a label's syntax that do not depend on
// IDNA mapping. label is raw input; checkHost checks the final form.
func checkLabelShape(label string) string {
	switch {
	case label == "":
		return `empty labels are not allowed; remove the extra dot (".." or a leading dot)`
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Sprintf("label %q must not start or end with a hyphen", label)
	case len(label) >= 4 && label[2:4] == "--" && !strings.EqualFold(label[:2], "xn"):
		return fmt.Sprintf(`label %q must not have "--" as its third and fourth characters (reserved for punycode, "xn--")`, label)
	}
	return ""
}

// checkHost checks a host name after IDNA processing and returns "" if it is
// valid: lower-case LDH labels of 1 to 63 octets, at least two labels, at
// most 253 octets, a non-numeric last label and not an IP address.
func checkHost(h string) string {
	if h == "" {
		return "a host name is required, e.g. \"example.com\""
	}
	if len(h) > maxDomain {
		return fmt.Sprintf("too long: a host name has at most %d characters, this one has %d", maxDomain, len(h))
	}
	labels := strings.Split(h, ".")
	for _, label := range labels {
		if len(label) > maxLabel {
			return fmt.Sprintf("label %q is too long: a label has at most %d characters, this one has %d", label, maxLabel, len(label))
		}
		if msg := checkLabelShape(label); msg != "" {
			return msg
		}
		for i := 0; i < len(label); i++ {
			if !isLDH(label[i]) {
				return fmt.Sprintf("the character %q is not allowed in a host name; use letters, digits, hyphens and dots", label[i])
			}
		}
	}
	if len(labels) < 2 {
		switch h {
		case "localhost", "test", "internal":
			return fmt.Sprintf(`single-label names are not allowed; use a name below it, such as "app.%s"`, h)
		}
		return fmt.Sprintf(`single-label names are not allowed; use a full name such as "%s.example.com" (for local use, "%s.localhost" or "%s.test")`, h, h, h)
	}
	if _, err := netip.ParseAddr(h); err == nil || isNumericLabel(labels[len(labels)-1]) {
		return "use a domain name, not an IP address (the last label must not be a number)"
	}
	return ""
}

// isNumericLabel reports whether a last label would make a URL parser treat
// the host as an IPv4 address: decimal digits or a 0x hex number (WHATWG
// URL's "ends in a number" check).
func isNumericLabel(label string) bool {
	if rest, ok := strings.CutPrefix(label, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return label != "" && strings.Trim(label, "0123456789") == ""
}

// isLDH reports whether c is a lower-case letter, digit or hyphen.
func isLDH(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}

// DomainSuffix checks a domain suffix such as "test" or "dev.example.com":
// lowercase dot-separated labels of letters, digits and inner hyphens.
func DomainSuffix(field, s string) error {
	bad := &Error{Field: field, Msg: fmt.Sprintf("%s is not a domain suffix such as test or dev.example.com", quote(s))}
	if s == "" || len(s) > 253 {
		return bad
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
				return bad
			}
		}
	}
	return nil
}
