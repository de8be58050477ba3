package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// TokenPrefix starts every API and session token, so secret scanners can
// recognise leaked Berth tokens.
const TokenPrefix = "berth_"

// JoinTokenPrefix starts node join tokens.
const JoinTokenPrefix = "berthjoin_"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// secretChars is the number of base62 characters of a secret: 43 characters
// carry 256 bits.
const secretChars = 43

// NewToken returns a new bearer token secret with the given prefix and the
// hash under which it is stored. The secret itself is never stored.
func NewToken(prefix string) (secret string, hash []byte) {
	var b strings.Builder
	b.Grow(len(prefix) + secretChars)
	b.WriteString(prefix)
	buf := make([]byte, 64)
	for b.Len() < len(prefix)+secretChars {
		if _, err := rand.Read(buf); err != nil {
			panic("auth: crypto/rand failed: " + err.Error()) // unreachable on supported platforms
		}
		for _, c := range buf {
			// 62*4 = 248: rejecting bytes >= 248 keeps the characters uniform.
			if c < 248 && b.Len() < len(prefix)+secretChars {
				b.WriteByte(base62[c%62])
			}
		}
	}
	s := b.String()
	return s, HashToken(s)
}

// HashToken returns the stored form of a token secret. Tokens carry 256 bits
// of entropy, so a plain SHA-256 is enough: there is nothing to brute-force.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// LooksLikeToken reports whether s has the shape of a Berth token with the
// given prefix, so malformed credentials are refused before any lookup.
func LooksLikeToken(s, prefix string) bool {
	if len(s) != len(prefix)+secretChars || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[len(prefix):] {
		if !strings.ContainsRune(base62, c) {
			return false
		}
	}
	return true
}
