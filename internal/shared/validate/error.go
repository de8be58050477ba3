package validate

import (
	"strconv"
	"unicode/utf8"
)

// maxQuoted is how many bytes of an offending value an error message repeats.
const maxQuoted = 80

// Error is a validation failure of one field. Msg says what to fix.
//
// Value is the offending input as the caller sent it; Error quotes it (with
// Go escaping, so control and bidi characters cannot disturb a terminal or a
// log line) and shortens it. It is empty for secrets such as passwords.
type Error struct {
	Field string // API field name, e.g. "primary_domain"
	Msg   string // what is wrong and how to fix it
	Value string // offending input, or "" when it must not be echoed
}

// Error returns "<field> <quoted value>: <msg>", e.g.
// `primary_domain "exa mple.com": spaces are not allowed in a host name`,
// or "<field>: <msg>" when there is no value to show.
func (e *Error) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Msg
	}
	return e.Field + " " + quote(e.Value) + ": " + e.Msg
}

// quote returns s as a Go string literal, cut to about maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	i := maxQuoted
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strconv.Quote(s[:i] + "…")
}
