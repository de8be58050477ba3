package validate

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	minSlug        = 2
	maxSlug        = 40
	maxSiteName    = 40
	maxDisplayName = 100 // runes
	maxTokenName   = 64
	maxLabelValue  = 128
	idRandLen      = 26
	idAlphabet     = "0123456789abcdefghjkmnpqrstvwxyz" // Crockford base32, lower case
)

// Slug checks a client slug: 2 to 40 lower-case letters, digits and
// hyphens, starting with a letter, without a trailing hyphen or "--".
// Slugs end up in host names, Docker names and paths.
func Slug(field, s string) error {
	if msg := checkSlug(s, minSlug, maxSlug); msg != "" {
		return &Error{Field: field, Value: s, Msg: msg}
	}
	return nil
}

// SiteName checks a site name: 1 to 40 characters under the same rules as
// Slug. Site names end up in Docker container names, labels and paths.
func SiteName(field, s string) error {
	if msg := checkSlug(s, 1, maxSiteName); msg != "" {
		return &Error{Field: field, Value: s, Msg: msg}
	}
	return nil
}

// checkSlug returns "" if s is min to max characters of [a-z0-9-], starts
// with a letter, does not end with a hyphen and has no "--"; otherwise it
// returns what to fix, with a corrected example when one can be derived.
func checkSlug(s string, min, max int) string {
	if msg := slugShape(s, min, max); msg != "" {
		if fix := suggestSlug(s, max); fix != "" && fix != s && slugShape(fix, min, max) == "" {
			return fmt.Sprintf("%s, e.g. %q", msg, fix)
		}
		return msg
	}
	return ""
}

func slugShape(s string, min, max int) string {
	if s == "" {
		return "must not be empty"
	}
	for i := 0; i < len(s); i++ {
		if !isLDH(s[i]) {
			return "use lowercase letters, digits and hyphens"
		}
	}
	switch {
	case len(s) > max:
		return fmt.Sprintf("too long: at most %d characters", max)
	case len(s) < min:
		return fmt.Sprintf("too short: at least %d characters", min)
	case s[0] < 'a' || s[0] > 'z':
		return "must start with a letter"
	case s[len(s)-1] == '-':
		return "must not end with a hyphen"
	case strings.Contains(s, "--"):
		return `must not contain "--"`
	}
	return ""
}

// suggestSlug derives a slug from s: lower case, runs of other characters
// replaced by one hyphen, cut to max. The caller checks the result.
func suggestSlug(s string, max int) string {
	var b strings.Builder
	hyphen := true // drops leading separators
	for _, r := range strings.ToLower(s) {
		if b.Len() >= max {
			break
		}
		if r < utf8.RuneSelf && isLDH(byte(r)) && r != '-' {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen {
			b.WriteByte('-')
			hyphen = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// DisplayName checks a human-readable name such as "Acme Corp.": 1 to 100
// characters of valid UTF-8, without leading or trailing space, control
// characters or invisible and text-direction characters (which can make a
// name look like another in the UI).
func DisplayName(field, s string) error {
	fail := func(msg string) error { return &Error{Field: field, Value: s, Msg: msg} }
	switch {
	case s == "":
		return fail("must not be empty")
	case !utf8.ValidString(s):
		return fail("not valid UTF-8")
	case utf8.RuneCountInString(s) > maxDisplayName:
		return fail(fmt.Sprintf("too long: at most %d characters", maxDisplayName))
	case strings.TrimSpace(s) != s:
		return fail("remove the leading and trailing spaces")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fail(fmt.Sprintf("control character %U is not allowed", r))
		}
		if isInvisible(r) {
			return fail(fmt.Sprintf("invisible or text-direction character %U is not allowed", r))
		}
	}
	return nil
}

// isInvisible reports whether r is a zero-width, bidi control or line
// separator character that can hide or reorder text.
func isInvisible(r rune) bool {
	switch {
	case r == '\u00ad', // soft hyphen
		r == '\u061c',                  // Arabic letter mark
		'\u200b' <= r && r <= '\u200f', // zero width space, ZWNJ, ZWJ, LRM, RLM
		'\u2028' <= r && r <= '\u202e', // line/paragraph separators, bidi embeddings and overrides
		'\u2060' <= r && r <= '\u2064', // word joiner, invisible operators
		'\u2066' <= r && r <= '\u2069', // bidi isolates
		r == '\ufeff':                  // byte order mark
		return true
	}
	return false
}

// TokenName checks an API token's name: 1 to 64 letters, digits, spaces,
// dots, underscores and hyphens, without leading or trailing space.
func TokenName(field, s string) error {
	fail := func(msg string) error { return &Error{Field: field, Value: s, Msg: msg} }
	if s == "" {
		return fail("must not be empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(" ._-", c) >= 0) {
			return fail("use letters, digits, spaces, dots, underscores and hyphens")
		}
	}
	switch {
	case len(s) > maxTokenName:
		return fail(fmt.Sprintf("too long: at most %d characters", maxTokenName))
	case s[0] == ' ' || s[len(s)-1] == ' ':
		return fail("remove the leading and trailing spaces")
	}
	return nil
}

// ID checks that s is an id with the given prefix, such as
// "site_01jd3m5kq8x7w2c9v4r6t0yzab": prefix, "_" and 26 characters of
// lower-case Crockford base32. prefix must be lower-case letters and digits
// starting with a letter; another prefix is a bug in the caller and fails.
func ID(field, prefix, s string) error {
	if slugShape(prefix, 1, maxSlug) != "" || strings.Contains(prefix, "-") {
		return &Error{Field: field, Value: s, Msg: fmt.Sprintf("cannot check ids with prefix %q", prefix)}
	}
	rest, ok := strings.CutPrefix(s, prefix+"_")
	ok = ok && len(rest) == idRandLen
	for i := 0; ok && i < len(rest); i++ {
		ok = strings.IndexByte(idAlphabet, rest[i]) >= 0
	}
	if !ok {
		return &Error{Field: field, Value: s, Msg: fmt.Sprintf("not a %s id (ids look like %s_01jd...)", prefix, prefix)}
	}
	return nil
}

// LabelValue checks a value that becomes a Docker label value or a single
// file path segment: 1 to 128 characters of [a-z0-9._-], starting with a
// letter or digit and without "..".
func LabelValue(field, s string) error {
	fail := func(msg string) error { return &Error{Field: field, Value: s, Msg: msg} }
	if s == "" {
		return fail("must not be empty")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLDH(c) && c != '.' && c != '_' {
			return fail("use lowercase letters, digits, dots, underscores and hyphens")
		}
	}
	switch {
	case len(s) > maxLabelValue:
		return fail(fmt.Sprintf("too long: at most %d characters", maxLabelValue))
	case s[0] == '.' || s[0] == '-' || s[0] == '_':
		return fail("must start with a letter or digit")
	case strings.Contains(s, ".."):
		return fail(`must not contain ".."`)
	}
	return nil
}
