// Package auth holds Berth's credentials: bearer token secrets and their
// hashes, password hashing (argon2id), the Principal a call acts as, and the
// limiter that slows down password guessing.
//
// Which principal may call which method is decided in package api, in one
// table; this package only says who the caller is.
package auth
