package validate

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	maxEmail      = 254 // octets (RFC 5321 path limit minus the angle brackets)
	maxEmailLocal = 64  // octets (RFC 5321)
)

// Email checks that s is a bare e-mail address such as "ada@example.com" and
// returns it normalized: surrounding space trimmed and the domain normalized
// by Domain (lower case, IDNs in punycode). The local part is kept as given,
// since mail servers may treat it case-sensitively.
//
// Display names ("Ada <ada@example.com>"), quoted local parts and IP-address
// domains are rejected. The result passes Email unchanged.
func Email(field, s string) (string, error) {
	fail := func(msg string) (string, error) {
		return "", &Error{Field: field, Value: s, Msg: msg}
	}
	addr := strings.TrimSpace(s)
	switch {
	case addr == "":
		return fail(`an e-mail address is required, e.g. "ada@example.com"`)
	case len(addr) > maxEmail:
		return fail(fmt.Sprintf("too long: an e-mail address has at most %d characters", maxEmail))
	case !utf8.ValidString(addr):
		return fail("not valid UTF-8")
	}
	for _, r := range addr {
		if unicode.IsControl(r) || isInvisible(r) {
			return fail(fmt.Sprintf("character %U is not allowed in an e-mail address", r))
		}
	}
	if strings.ContainsRune(addr, '"') {
		return fail("quoted local parts are not supported")
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil {
		return fail(`not an e-mail address; give the address only, e.g. "ada@example.com"`)
	}
	if parsed.Name != "" || parsed.Address != addr {
		return fail(fmt.Sprintf("give the address only, e.g. %q", parsed.Address))
	}
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	if len(local) > maxEmailLocal {
		return fail(fmt.Sprintf("the part before @ is too long: at most %d characters", maxEmailLocal))
	}
	domain, err = Domain(field, domain)
	if err != nil {
		if ve := (*Error)(nil); errors.As(err, &ve) {
			return fail("the part after @ is not a valid domain: " + ve.Msg)
		}
		return fail("the part after @ is not a valid domain")
	}
	out := local + "@" + domain
	if len(out) > maxEmail {
		return fail(fmt.Sprintf("too long: an e-mail address has at most %d characters", maxEmail))
	}
	return out, nil
}
