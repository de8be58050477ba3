package validate

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

const (
	minPassword = 12  // characters
	maxPassword = 256 // characters
)

// Password checks a new password: 12 to 256 characters of valid UTF-8
// without control characters. The error never repeats the password.
func Password(field, s string) error {
	fail := func(msg string) error { return &Error{Field: field, Msg: msg} }
	if !utf8.ValidString(s) {
		return fail("not valid UTF-8")
	}
	switch n := utf8.RuneCountInString(s); {
	case n < minPassword:
		return fail(fmt.Sprintf("too short: use at least %d characters", minPassword))
	case n > maxPassword:
		return fail(fmt.Sprintf("too long: use at most %d characters", maxPassword))
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fail("control characters (such as tabs and newlines) are not allowed")
		}
	}
	return nil
}
