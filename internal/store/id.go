package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new unique id such as "site_01jd3m5kq8x7w2c9v4r6t0yzab":
// the prefix, an underscore and 26 characters of Crockford base32 holding a
// millisecond timestamp and 80 random bits. Ids sort by creation time, and
// use only [a-z0-9_], so they are safe in Docker names, labels and paths.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("store: crypto/rand failed: " + err.Error()) // unreachable on supported platforms
	}
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}
