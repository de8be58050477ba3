// Package validate checks the names and values that API callers send before
// they reach Docker names, labels, file paths or the database.
//
// Every value that comes from outside the control plane passes exactly one
// function here. Input is untrusted: the functions accept a narrow, explicit
// character set instead of trying to strip what is dangerous, and never
// normalise silently beyond what is documented (Domain maps case and IDNA,
// Email lower-cases its domain and trims surrounding space).
//
// Values that pass Slug, SiteName, LabelValue and ID match
// ^[a-z0-9][a-z0-9_.-]*$ and contain no "..": they are safe as a Docker name
// segment, a label value and a single path segment. Values that pass Domain
// are lower-case ASCII host names (IDNs in punycode) with at least two labels,
// never an IP address.
//
// Failures are *Error values naming the field and telling the caller what to
// fix, for example
//
//	primary_domain "exa mple.com": spaces are not allowed in a host name
//
// The API layer maps them to InvalidArgument; use errors.As to get the field.
// The fuzz targets in fuzz_test.go state the invariants above as code.
package validate
