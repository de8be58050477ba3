package alerts

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fixaroo/berth/internal/shared/validate"
)

const (
	maxURL          = 2048 // bytes
	maxRecipients   = 20
	maxSMTPUser     = 256 // bytes
	maxSMTPPassword = 256 // bytes
	maxHostName     = 253 // octets (RFC 1035)
	maxHostLabel    = 63  // octets (RFC 1035)
)

// ValidateChannel checks a channel's settings before it is stored. The error
// is a *validate.Error naming the API field, e.g.
//
//	url: use an http:// or https:// address (got "ftp")
//	smtp_address "smtp.example.com": add the port, e.g. "smtp.example.com:587"
//	email_to[1] "bob@": not an e-mail address; give the address only, e.g. "ada@example.com"
//
// Neither the URL nor the password is ever quoted back: the URL shows as
// scheme and host at most. ID and ClientID are not checked; the API layer
// assigns and authorizes them.
func ValidateChannel(ch Channel) error {
	if err := validate.DisplayName("name", ch.Name); err != nil {
		return err
	}
	_, _, err := checkDelivery(ch)
	return err
}

// checkDelivery checks the settings Send needs and, for e-mail, returns the
// normalized sender and recipients.
func checkDelivery(ch Channel) (from string, to []string, err error) {
	switch ch.Kind {
	case KindWebhook, KindSlack:
		return "", nil, checkURL(ch.URL)
	case KindEmail:
		return checkEmail(ch)
	case "":
		return "", nil, &validate.Error{Field: "kind", Msg: `choose "webhook", "slack" or "email"`}
	default:
		return "", nil, &validate.Error{Field: "kind", Value: ch.Kind, Msg: `unknown kind; choose "webhook", "slack" or "email"`}
	}
}

// checkURL checks a webhook URL without ever putting more than its scheme
// and host into the error.
func checkURL(raw string) error {
	fail := func(msg string) error { return &validate.Error{Field: "url", Msg: msg} }
	switch {
	case raw == "":
		return fail(`a webhook URL is required, e.g. "https://hooks.example.com/..."`)
	case len(raw) > maxURL:
		return fail(fmt.Sprintf("too long: a URL has at most %d characters", maxURL))
	case strings.TrimSpace(raw) != raw:
		return fail("remove the leading and trailing spaces")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL: say what kind of problem only.
		return fail("not a valid URL; copy the webhook address exactly as the receiving service shows it")
	}
	switch u.Scheme {
	case "http", "https":
	case "":
		return fail(`use an http:// or https:// address`)
	default:
		return fail(fmt.Sprintf("use an http:// or https:// address (got %q)", cut(u.Scheme, 20)))
	}
	host := u.Hostname()
	if host == "" || u.Opaque != "" {
		return fail(fmt.Sprintf("the %s:// address has no host", u.Scheme))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fail(fmt.Sprintf("%s: the port must be 1 to 65535", redactURL(u)))
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := metadataRefusal(ip); why != "" {
			return fail(fmt.Sprintf("%s: %s", redactURL(u), why))
		}
	} else if msg := checkHostName(host); msg != "" {
		return fail(fmt.Sprintf("%s: %s", redactURL(u), msg))
	}
	return nil
}

func checkEmail(ch Channel) (from string, to []string, err error) {
	if err := checkSMTPAddress(ch.SMTPAddress); err != nil {
		return "", nil, err
	}
	if err := checkSMTPAuth(ch.SMTPUsername, ch.SMTPPassword); err != nil {
		return "", nil, err
	}
	if ch.EmailFrom == "" {
		return "", nil, &validate.Error{Field: "email_from", Msg: `the sender address is required, e.g. "alerts@example.com"`}
	}
	from, err = validate.Email("email_from", ch.EmailFrom)
	if err != nil {
		return "", nil, err
	}
	switch n := len(ch.EmailTo); {
	case n == 0:
		return "", nil, &validate.Error{Field: "email_to", Msg: `at least one recipient is required, e.g. "ops@example.com"`}
	case n > maxRecipients:
		return "", nil, &validate.Error{Field: "email_to", Msg: fmt.Sprintf("too many recipients: at most %d; use a mailing list", maxRecipients)}
	}
	to = make([]string, len(ch.EmailTo))
	for i, addr := range ch.EmailTo {
		if to[i], err = validate.Email(fmt.Sprintf("email_to[%d]", i), addr); err != nil {
			return "", nil, err
		}
	}
	return from, to, nil
}

func checkSMTPAddress(addr string) error {
	fail := func(msg string) error { return &validate.Error{Field: "smtp_address", Value: addr, Msg: msg} }
	if addr == "" {
		return fail(`the mail server is required, e.g. "smtp.example.com:587"`)
	}
	if !utf8.ValidString(addr) {
		return fail("not valid UTF-8")
	}
	if strings.Contains(addr, "://") || strings.ContainsAny(addr, "/?#@") {
		return fail(`give host:port only, e.g. "smtp.example.com:587"`)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if !strings.Contains(strings.Trim(addr, "[]"), ":") || strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
			return fail(fmt.Sprintf("add the port, e.g. %q", net.JoinHostPort(strings.Trim(addr, "[]"), "587")))
		}
		return fail(`give host:port, e.g. "smtp.example.com:587" or "[2001:db8::25]:587"`)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fail("the port must be a number from 1 to 65535, e.g. 587")
	}
	if host == "" {
		return fail(`the host is missing, e.g. "smtp.example.com:587"`)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := metadataRefusal(ip); why != "" {
			return fail(why)
		}
		return nil
	}
	if msg := checkHostName(host); msg != "" {
		return fail(msg)
	}
	return nil
}

// checkHostName accepts what a resolver can look up: letters, digits,
// hyphens, underscores and dots, single-label names such as "localhost" or
// a Compose service name included.
func checkHostName(h string) string {
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > maxHostName {
		return fmt.Sprintf("the host name must be 1 to %d characters", maxHostName)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > maxHostLabel {
			return fmt.Sprintf("each part of the host name between dots must be 1 to %d characters", maxHostLabel)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "the host name may contain letters, digits, hyphens, underscores and dots only (use punycode for international names)"
			}
		}
	}
	return ""
}

func checkSMTPAuth(user, password string) error {
	switch {
	case user == "" && password != "":
		return &validate.Error{Field: "smtp_username", Msg: "a password is set, so the user name is required too"}
	case user == "":
		return nil
	case password == "":
		return &validate.Error{Field: "smtp_password", Msg: "required with smtp_username"}
	case len(user) > maxSMTPUser:
		return &validate.Error{Field: "smtp_username", Msg: fmt.Sprintf("too long: at most %d characters", maxSMTPUser)}
	case len(password) > maxSMTPPassword:
		return &validate.Error{Field: "smtp_password", Msg: fmt.Sprintf("too long: at most %d characters", maxSMTPPassword)}
	case !utf8.ValidString(user) || strings.IndexFunc(user, unicode.IsControl) >= 0:
		return &validate.Error{Field: "smtp_username", Msg: "control characters and invalid UTF-8 are not allowed"}
	case !utf8.ValidString(password) || strings.IndexFunc(password, unicode.IsControl) >= 0:
		// AUTH PLAIN separates its parts with NUL; never echo the value.
		return &validate.Error{Field: "smtp_password", Msg: "control characters and invalid UTF-8 are not allowed"}
	}
	return nil
}

// redactURL returns u as scheme://host[:port]: paths, queries, fragments
// and user info often carry a webhook's token.
func redactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// redactRawURL is redactURL for a string; an unparsable URL shows as
// "webhook URL".
func redactRawURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "webhook URL"
	}
	return redactURL(u)
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
