package alerts

import (
	"crypto/rand"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode"
)

const maxSubject = 250 // bytes before RFC 2047 encoding

// buildMessage returns the RFC 5322 message for a: CRLF line endings, a
// quoted-printable UTF-8 text body (so no line exceeds 76 characters and
// the message is 7-bit clean whatever the server supports). from and to
// are bare addresses that passed validate.Email. Dot-stuffing is left to
// net/smtp's DATA writer.
func buildMessage(from string, to []string, a Alert) []byte {
	var b strings.Builder
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("From", from)
	header("To", strings.Join(to, ",\r\n "))
	header("Subject", mime.QEncoding.Encode("utf-8", headerText(a.Subject, "Berth alert")))
	header("Date", a.Time.Format(time.RFC1123Z))
	header("Message-ID", "<"+rand.Text()+"@"+from[strings.LastIndexByte(from, '@')+1:]+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: tells auto-responders (out-of-office) not to answer.
	header("Auto-Submitted", "auto-generated")
	if ev := headerText(a.Event, ""); ev != "" {
		header("X-Berth-Event", mime.QEncoding.Encode("utf-8", ev))
	}
	b.WriteString("\r\n")

	// Line breaks reach the writer as LF only: it turns each into CRLF, but
	// drops an LF that follows a CR and an escaped byte ("\r\xff\n").
	text := strings.ToValidUTF8(a.Text, "\uFFFD")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	qp := quotedprintable.NewWriter(&b)
	// Writes to a strings.Builder do not fail.
	_, _ = qp.Write([]byte(text))
	_ = qp.Close()
	return []byte(b.String())
}

// headerText makes s safe as one header line: valid UTF-8, line breaks and
// other control characters turned into single spaces (no header
// injection), trimmed and cut to maxSubject bytes. An empty result is
// replaced by def.
func headerText(s, def string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if s == "" {
		return def
	}
	return cut(s, maxSubject)
}
