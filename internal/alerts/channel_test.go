package alerts

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fixaroo/berth/internal/shared/validate"
)

func TestValidateChannel(t *testing.T) {
	const tok = "/hooks/" + webhookToken
	hook := func(url string) Channel { return Channel{Name: "Hook", Kind: KindWebhook, URL: url} }
	slack := func(url string) Channel { return Channel{Name: "Slack", Kind: KindSlack, URL: url} }
	mail := func(edit func(*Channel)) Channel {
		ch := Channel{
			Name: "Mail", Kind: KindEmail, SMTPAddress: "smtp.example.com:587",
			SMTPUsername: "alerts", SMTPPassword: smtpPassword,
			EmailFrom: "alerts@example.com", EmailTo: []string{"ops@example.com"},
		}
		if edit != nil {
			edit(&ch)
		}
		return ch
	}
	manyTo := make([]string, maxRecipients+1)
	for i := range manyTo {
		manyTo[i] = fmt.Sprintf("ops%d@example.com", i)
	}

	tests := []struct {
		name      string
		ch        Channel
		wantField string // "" for valid
		wantMsg   string // substring of the message
	}{
		// Valid channels.
		{name: "https webhook with token", ch: hook("https://hooks.example.com" + tok + "?sig=" + webhookToken)},
		{name: "user info", ch: hook("https://user:" + webhookToken + "@hooks.example.com/x")},
		{name: "loopback", ch: hook("http://127.0.0.1:8080" + tok)},
		{name: "IPv6 loopback", ch: hook("http://[::1]" + tok)},
		{name: "private address", ch: hook("http://10.1.2.3" + tok)},
		{name: "single-label host", ch: hook("http://receiver:9000" + tok)},
		{name: "upper-case scheme", ch: slack("HTTPS://hooks.slack.com/services" + tok)},
		{name: "email", ch: mail(nil)},
		{name: "email without login", ch: mail(func(c *Channel) { c.SMTPUsername, c.SMTPPassword = "", "" })},
		{name: "email localhost", ch: mail(func(c *Channel) { c.SMTPAddress = "localhost:25" })},
		{name: "email IPv6", ch: mail(func(c *Channel) { c.SMTPAddress = "[2001:db8::25]:587" })},
		{name: "email compose service", ch: mail(func(c *Channel) { c.SMTPAddress = "mail_relay:1025" })},
		{name: "email IDN recipient", ch: mail(func(c *Channel) { c.EmailTo = []string{"ops@bücher.example", "Dev@Example.COM"} })},

		// Common fields.
		{name: "no name", ch: Channel{Kind: KindWebhook, URL: "https://h.example.com/"}, wantField: "name", wantMsg: "must not be empty"},
		{name: "name with newline", ch: Channel{Name: "a\nb", Kind: KindWebhook, URL: "https://h.example.com/"}, wantField: "name", wantMsg: "control character"},
		{name: "no kind", ch: Channel{Name: "x"}, wantField: "kind", wantMsg: `choose "webhook", "slack" or "email"`},
		{name: "unknown kind", ch: Channel{Name: "x", Kind: "pager"}, wantField: "kind", wantMsg: "unknown kind"},

		// Webhook URLs. None of these may echo the token.
		{name: "no URL", ch: hook(""), wantField: "url", wantMsg: "a webhook URL is required"},
		{name: "URL with spaces", ch: hook(" https://h.example.com" + tok), wantField: "url", wantMsg: "leading and trailing spaces"},
		{name: "ftp", ch: hook("ftp://h.example.com" + tok), wantField: "url", wantMsg: `use an http:// or https:// address (got "ftp")`},
		{name: "javascript", ch: slack("javascript:alert('" + webhookToken + "')"), wantField: "url", wantMsg: `(got "javascript")`},
		{name: "no scheme", ch: hook("hooks.example.com" + tok), wantField: "url", wantMsg: "use an http:// or https:// address"},
		{name: "no host", ch: hook("https://" + tok), wantField: "url", wantMsg: "has no host"},
		{name: "opaque", ch: hook("https:" + webhookToken), wantField: "url", wantMsg: "has no host"},
		{name: "unparsable", ch: hook("https://exa mple.com" + tok), wantField: "url", wantMsg: "not a valid URL"},
		{name: "port 0", ch: hook("https://h.example.com:0" + tok), wantField: "url", wantMsg: "https://h.example.com:0: the port must be 1 to 65535"},
		{name: "port too big", ch: hook("https://h.example.com:65536" + tok), wantField: "url", wantMsg: "the port must be 1 to 65535"},
		{name: "metadata IPv4", ch: hook("http://169.254.169.254/latest/meta-data?" + webhookToken), wantField: "url", wantMsg: "http://169.254.169.254: link-local addresses"},
		{name: "link-local IPv6 with zone", ch: hook("http://[fe80::1%25eth0]" + tok), wantField: "url", wantMsg: "link-local"},
		{name: "mapped metadata", ch: hook("http://[::ffff:169.254.169.254]" + tok), wantField: "url", wantMsg: "link-local"},
		{name: "AWS IPv6 metadata", ch: hook("http://[fd00:ec2::254]" + tok), wantField: "url", wantMsg: "metadata service"},
		{name: "Alibaba metadata", ch: slack("http://100.100.100.200" + tok), wantField: "url", wantMsg: "metadata service"},
		{name: "unspecified", ch: hook("http://0.0.0.0:8080" + tok), wantField: "url", wantMsg: "unspecified"},
		{name: "multicast", ch: hook("http://[ff02::1]" + tok), wantField: "url", wantMsg: "multicast"},
		{name: "bad host character", ch: hook("https://ex!ample.com" + tok), wantField: "url", wantMsg: "letters, digits"},
		{name: "too long", ch: hook("https://h.example.com/" + strings.Repeat("a", maxURL)), wantField: "url", wantMsg: "too long"},

		// SMTP server.
		{name: "no smtp address", ch: mail(func(c *Channel) { c.SMTPAddress = "" }), wantField: "smtp_address", wantMsg: "the mail server is required"},
		{name: "no port", ch: mail(func(c *Channel) { c.SMTPAddress = "smtp.example.com" }), wantField: "smtp_address", wantMsg: `add the port, e.g. "smtp.example.com:587"`},
		{name: "bracketed IPv6 without port", ch: mail(func(c *Channel) { c.SMTPAddress = "[2001:db8::25]" }), wantField: "smtp_address", wantMsg: `add the port, e.g. "[2001:db8::25]:587"`},
		{name: "bare IPv6", ch: mail(func(c *Channel) { c.SMTPAddress = "2001:db8::25" }), wantField: "smtp_address", wantMsg: `"[2001:db8::25]:587"`},
		{name: "smtp URL", ch: mail(func(c *Channel) { c.SMTPAddress = "smtp://smtp.example.com:587" }), wantField: "smtp_address", wantMsg: "give host:port only"},
		{name: "port name", ch: mail(func(c *Channel) { c.SMTPAddress = "smtp.example.com:submission" }), wantField: "smtp_address", wantMsg: "the port must be a number"},
		{name: "port 0", ch: mail(func(c *Channel) { c.SMTPAddress = "smtp.example.com:0" }), wantField: "smtp_address", wantMsg: "the port must be a number"},
		{name: "no host", ch: mail(func(c *Channel) { c.SMTPAddress = ":587" }), wantField: "smtp_address", wantMsg: "the host is missing"},
		{name: "metadata", ch: mail(func(c *Channel) { c.SMTPAddress = "169.254.169.254:25" }), wantField: "smtp_address", wantMsg: "link-local"},
		{name: "link-local IPv6", ch: mail(func(c *Channel) { c.SMTPAddress = "[fe80::1]:25" }), wantField: "smtp_address", wantMsg: "link-local"},
		{name: "bad host", ch: mail(func(c *Channel) { c.SMTPAddress = "smtp example.com:25" }), wantField: "smtp_address", wantMsg: "letters, digits"},
		{name: "empty label", ch: mail(func(c *Channel) { c.SMTPAddress = "smtp..example.com:25" }), wantField: "smtp_address", wantMsg: "between dots"},

		// SMTP login. The password is never echoed.
		{name: "password without user", ch: mail(func(c *Channel) { c.SMTPUsername = "" }), wantField: "smtp_username", wantMsg: "the user name is required too"},
		{name: "user without password", ch: mail(func(c *Channel) { c.SMTPPassword = "" }), wantField: "smtp_password", wantMsg: "required with smtp_username"},
		{name: "user with newline", ch: mail(func(c *Channel) { c.SMTPUsername = "a\r\nb" }), wantField: "smtp_username", wantMsg: "control characters"},
		{name: "password with NUL", ch: mail(func(c *Channel) { c.SMTPPassword = smtpPassword + "\x00x" }), wantField: "smtp_password", wantMsg: "control characters"},
		{name: "password too long", ch: mail(func(c *Channel) { c.SMTPPassword = smtpPassword + strings.Repeat("p", maxSMTPPassword) }), wantField: "smtp_password", wantMsg: "too long"},

		// Addresses.
		{name: "no from", ch: mail(func(c *Channel) { c.EmailFrom = "" }), wantField: "email_from", wantMsg: "the sender address is required"},
		{name: "from with display name", ch: mail(func(c *Channel) { c.EmailFrom = "Berth <alerts@example.com>" }), wantField: "email_from", wantMsg: "give the address only"},
		{name: "no recipients", ch: mail(func(c *Channel) { c.EmailTo = nil }), wantField: "email_to", wantMsg: "at least one recipient"},
		{name: "bad second recipient", ch: mail(func(c *Channel) { c.EmailTo = []string{"ops@example.com", "bob@"} }), wantField: "email_to[1]", wantMsg: "not an e-mail address"},
		{name: "recipient with CRLF", ch: mail(func(c *Channel) { c.EmailTo = []string{"ops@example.com\r\nRCPT TO:<x@evil.test>"} }), wantField: "email_to[0]", wantMsg: "not allowed"},
		{name: "too many recipients", ch: mail(func(c *Channel) { c.EmailTo = manyTo }), wantField: "email_to", wantMsg: "too many recipients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateChannel(tt.ch)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("ValidateChannel = %v, want nil", err)
				}
				return
			}
			var ve *validate.Error
			if !errors.As(err, &ve) {
				t.Fatalf("ValidateChannel = %v (%T), want a *validate.Error", err, err)
			}
			if ve.Field != tt.wantField || !strings.Contains(ve.Msg, tt.wantMsg) {
				t.Errorf("ValidateChannel = %q, want field %q and a message containing %q", err, tt.wantField, tt.wantMsg)
			}
			checkNoSecret(t, err)
			if ve.Field == "url" && ve.Value != "" {
				t.Errorf("url error quotes the URL: %q", err)
			}
		})
	}
}

func TestRedactRawURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/services/" + webhookToken:        "https://hooks.example.com",
		"http://user:" + webhookToken + "@h.example.com:8080/x?y=z": "http://h.example.com:8080",
		"https://[::1]:8443/#" + webhookToken:                       "https://[::1]:8443",
		"not a url " + webhookToken:                                 "webhook URL",
		"%zz" + webhookToken:                                        "webhook URL",
	} {
		if got := redactRawURL(in); got != want {
			t.Errorf("redactRawURL(%q) = %q, want %q", in, got, want)
		}
	}
}
