package alerts

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fixaroo/berth/internal/shared/validate"
)

// FuzzValidateChannel states what an accepted channel guarantees (an
// http(s) URL with a host that is not refused; an SMTP host:port with a
// valid port) and that errors are field errors that never repeat a secret.
func FuzzValidateChannel(f *testing.F) {
	for _, s := range []struct{ url, smtp, password string }{
		{"https://hooks.example.com/x", "smtp.example.com:587", "hunter2hunter2"},
		{"http://169.254.169.254", "[fe80::1]:25", "a\x00b"},
		{"http://[::ffff:a9fe:a9fe]/", "[::ffff:169.254.169.254]:25", ""},
		{"HTTPS://h:65535", "localhost:25", "pässwörd"},
		{"javascript:alert(1)", "smtp://x:25", "\r\n"},
		{"http://[fe80::1%25en0]/", "2001:db8::1", "p"},
		{"https://user:pw@h/", ":25", "pw"},
		{"//h.example.com/x", "h:0", "x"},
		{"http://0x7f.1/", "h:99999", "x"},
		{"http://%41.example/", "[::1]", "x"},
	} {
		f.Add(s.url, s.smtp, s.password)
	}
	f.Fuzz(func(t *testing.T, rawURL, smtpAddr, password string) {
		// Webhook: the token after the host must never show in an error.
		hookURL := rawURL + "/" + webhookToken
		err := ValidateChannel(Channel{Name: "x", Kind: KindWebhook, URL: hookURL})
		if err != nil {
			checkFuzzFieldErr(t, err, "url")
			if strings.Contains(err.Error(), webhookToken) {
				t.Fatalf("error for %q repeats the token: %v", hookURL, err)
			}
		} else {
			u, perr := url.Parse(hookURL)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
				t.Fatalf("accepted %q: scheme %q, host %q, parse error %v", hookURL, u.Scheme, u.Hostname(), perr)
			}
			if ip, perr := netip.ParseAddr(u.Hostname()); perr == nil && metadataRefusal(ip) != "" {
				t.Fatalf("accepted %q with a refused address", hookURL)
			}
		}

		ch := Channel{
			Name: "x", Kind: KindEmail, SMTPAddress: smtpAddr,
			SMTPUsername: "u", SMTPPassword: password,
			EmailFrom: "a@example.com", EmailTo: []string{"b@example.com"},
		}
		err = ValidateChannel(ch)
		if err != nil {
			// Login errors quote nothing, so they cannot leak the password;
			// the address is not secret and is quoted.
			field := checkFuzzFieldErr(t, err, "smtp_address", "smtp_username", "smtp_password")
			if field != "smtp_address" && err.(*validate.Error).Value != "" {
				t.Fatalf("%s error quotes a value: %v", field, err)
			}
			return
		}
		host, port, serr := net.SplitHostPort(smtpAddr)
		n, _ := strconv.Atoi(port)
		if serr != nil || host == "" || n < 1 || n > 65535 {
			t.Fatalf("accepted smtp_address %q", smtpAddr)
		}
		if ip, perr := netip.ParseAddr(host); perr == nil && metadataRefusal(ip) != "" {
			t.Fatalf("accepted smtp_address %q with a refused address", smtpAddr)
		}
		if password == "" || strings.ContainsRune(password, 0) || !utf8.ValidString(password) {
			t.Fatalf("accepted password %q", password)
		}
	})
}

// checkFuzzFieldErr checks that err is a *validate.Error for one of fields
// and returns its field.
func checkFuzzFieldErr(t *testing.T, err error, fields ...string) string {
	t.Helper()
	var ve *validate.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is %T, want *validate.Error", err, err)
	}
	if !slices.Contains(fields, ve.Field) {
		t.Fatalf("error %v names field %q, want one of %q", err, ve.Field, fields)
	}
	if ve.Msg == "" {
		t.Fatalf("error %v has no message", err)
	}
	return ve.Field
}

// FuzzBuildMessage states that no subject, event or text can add a header,
// break the CRLF framing or exceed SMTP's line limit, and that the subject
// and body come back intact.
func FuzzBuildMessage(f *testing.F) {
	f.Add("DOWN: www.example.com (Acme Ltd)", "incident.opened", "line 1\nline 2\r\n.\n")
	f.Add("DOWN\r\nBcc: x@evil.test", "test\nX: y", "body\r\n.\r\nQUIT\r\n")
	f.Add("Zertifikat läuft ab: bücher.example 🔒", "certificate.expiring", strings.Repeat("ü", 300))
	f.Add("", "", "")
	f.Add("\xff\xfe bad utf-8", "\x00", "\r\r\n\n\r")
	f.Add(strings.Repeat("x", 2000), strings.Repeat("e", 500), strings.Repeat(" ", 100)+"\n")
	f.Fuzz(func(t *testing.T, subject, event, text string) {
		a := Alert{Event: event, Subject: subject, Text: text, Time: time.Unix(1700000000, 0).UTC()}
		data := buildMessage("alerts@berth.test", []string{"ops@acme.test", "dev@acme.test"}, a)
		if n, crlf := bytes.Count(data, []byte("\n")), bytes.Count(data, []byte("\r\n")); n != crlf || bytes.Count(data, []byte("\r")) != crlf {
			t.Fatalf("bare CR or LF in message:\n%q", data)
		}
		for _, line := range bytes.Split(data, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("line of %d bytes", len(line))
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("parse: %v\n%q", err, data)
		}
		var names []string
		for name := range msg.Header {
			names = append(names, name)
		}
		slices.Sort(names)
		want := []string{"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}
		if headerText(event, "") != "" {
			want = append(want, "X-Berth-Event")
			slices.Sort(want)
		}
		if !slices.Equal(names, want) {
			t.Fatalf("headers %q, want %q\n%q", names, want, data)
		}
		for name, values := range msg.Header {
			if len(values) != 1 {
				t.Fatalf("header %s appears %d times", name, len(values))
			}
		}
		wantSubject := headerText(subject, "Berth alert")
		if !strings.Contains(wantSubject, "=?") { // an ASCII "=?...?=" is decoded by design
			got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || got != wantSubject {
				t.Fatalf("Subject decodes to %q, %v; want %q", got, err, wantSubject)
			}
		}
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatalf("decode body: %v", err)
		}
		wantBody := strings.ToValidUTF8(text, "\uFFFD")
		if !strings.HasSuffix(wantBody, "\n") {
			wantBody += "\n"
		}
		wantBody = strings.ReplaceAll(wantBody, "\r\n", "\n")
		wantBody = strings.ReplaceAll(wantBody, "\r", "\n")
		wantBody = strings.ReplaceAll(wantBody, "\n", "\r\n")
		if string(body) != wantBody {
			t.Fatalf("body = %q, want %q", body, wantBody)
		}
	})
}
