// Package store is the control plane's persistent state: clients, sites,
// nodes, users, tokens, join tokens, the audit log, the certificate storage
// and locks that the node agents share, and uptime: probe results and their
// per-minute rollups, incidents, maintenance windows, and alert channels and
// deliveries.
//
// A Store runs read-only transactions through View and read-write ones through
// Update. Everything done inside one Update commits or rolls back together, so
// a mutation and its audit event are written atomically. Implementations are
// safe for concurrent use; writes are serialised.
//
// Times are stored with microsecond precision and returned in UTC. Domains
// and emails are compared as given: callers normalise them (lower case,
// punycode) through package validate before storing them.
//
// The conformance suite in package storetest defines the contract; every
// backend runs it.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every implementation, wrapped in an [*Error] that says
// which record or key. Compare with errors.Is.
var (
	// ErrNotFound: no record has the given key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key (slug, domain, email, name) is already taken.
	ErrConflict = errors.New("store: already exists")
	// ErrInUse: the record is still referenced (a client with sites).
	ErrInUse = errors.New("store: in use")
)

// Error is how implementations return ErrNotFound, ErrConflict and ErrInUse:
// Msg says, for the user, which record or key, so that callers can show it
// without the sentinel's text.
type Error struct {
	Kind error  // ErrNotFound, ErrConflict or ErrInUse
	Msg  string // e.g. `site "s_1"`, `domain "a.com" is already used by another site`
}

// Error returns Msg followed by Kind's text, e.g. `site "s_1": store: not found`.
func (e *Error) Error() string { return e.Msg + ": " + e.Kind.Error() }

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Store is a transactional state store.
type Store interface {
	// View runs fn in a read-only transaction with a consistent snapshot.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Update runs fn in a read-write transaction. If fn returns an error the
	// transaction rolls back and Update returns that error. Sites changed by a
	// committed transaction are announced to subscribers after the commit.
	// Writes are serialised: fn must not call Update itself (it would wait
	// for its own transaction forever).
	Update(ctx context.Context, fn func(Tx) error) error
	// SubscribeSites returns a channel that receives the id of every site
	// changed by a committed transaction, and a cancel function that must be
	// called to release it. Slow receivers miss ids rather than block writers;
	// a receiver that must not miss changes re-reads state after each wake-up
	// and now and then. Cancel, or closing the store, closes the channel.
	SubscribeSites() (ids <-chan string, cancel func())
	// Close releases the store. Calls after Close fail.
	Close() error
}

// Page selects a window of a list ordered by id. After is the last id of the
// previous page ("" for the first); Limit is the maximum number of records
// (100 when <= 0). A page shorter than Limit is the last one.
type Page struct {
	After string
	Limit int
}

// ReadTx reads state. Get methods return ErrNotFound for a missing key.
type ReadTx interface {
	GetClient(id string) (*Client, error)
	// GetClientBySlug returns the client with the slug; ErrNotFound if none has it.
	GetClientBySlug(slug string) (*Client, error)
	ListClients(p Page) ([]*Client, error)

	GetSite(id string) (*Site, error)
	ListSites(f SiteFilter, p Page) ([]*Site, error)
	// CountSites counts the sites matching f.
	CountSites(f SiteFilter) (int, error)

	GetNode(id string) (*Node, error)
	ListNodes(p Page) ([]*Node, error)

	GetUser(id string) (*User, error)
	GetUserByEmail(email string) (*User, error)
	ListUsers(clientID string, p Page) ([]*User, error)

	GetToken(id string) (*Token, error)
	// GetTokenByHash finds a token by the SHA-256 of its secret.
	GetTokenByHash(hash []byte) (*Token, error)
	ListTokens(f TokenFilter, p Page) ([]*Token, error)

	// ListAuditEvents lists events newest first; Page.After is an event id
	// and the page continues with older events.
	ListAuditEvents(f AuditFilter, p Page) ([]*AuditEvent, error)

	GetRelease(id string) (*Release, error)
	// ListReleases lists a site's releases, newest first; Page.After is a
	// release id and the page continues with older releases.
	ListReleases(siteID string, p Page) ([]*Release, error)
	// ReleaseDigestInUse reports whether any release, of any site, has the
	// bundle digest.
	ReleaseDigestInUse(digest string) (bool, error)

	// GetMeta reads a control-plane setting; ErrNotFound if unset.
	GetMeta(key string) (string, error)

	// Certificate data is the node agents' certmagic storage. Keys are
	// '/'-separated paths; a key that prefixes stored keys is a directory.
	// Implementations encrypt values at rest.

	// GetCertData reads one key; ErrNotFound if it is not stored.
	GetCertData(key string) (*CertData, error)
	// ListCertData lists, sorted, the keys under prefix ("" for the root):
	// with recursive every stored key, without it the direct children, a
	// directory once as its path. ErrNotFound if nothing is under prefix.
	ListCertData(prefix string, recursive bool) ([]string, error)
	// StatCertData describes a stored key or a directory; ErrNotFound if key
	// is neither.
	StatCertData(key string) (CertDataInfo, error)

	// Uptime. Time ranges are half-open, [from, to); a zero bound is
	// unbounded.

	// ListProbeResults returns a site's results with from <= Time < to,
	// ordered by Time (then NodeID and Seq).
	ListProbeResults(siteID string, from, to time.Time) ([]ProbeResult, error)
	// SitesWithProbeResults returns, sorted, the ids of the sites having
	// results with from <= Time < to.
	SitesWithProbeResults(from, to time.Time) ([]string, error)
	// ListSiteMinutes returns a site's minutes with from <= Minute < to,
	// ordered by Minute.
	ListSiteMinutes(siteID string, from, to time.Time) ([]SiteMinute, error)
	// CountSiteMinutes counts a site's minutes with from <= Minute < to by
	// status, and tells the latest of them: what a summary needs, without
	// reading every row.
	CountSiteMinutes(siteID string, from, to time.Time) (MinuteCounts, error)
	// CountSiteMinutesByDay is CountSiteMinutes for each UTC day of
	// [from, to) that has minutes, oldest first.
	CountSiteMinutesByDay(siteID string, from, to time.Time) ([]DayMinuteCounts, error)
	// GetUptimeState returns the incident tracker's state of a site as it
	// was put; ErrNotFound if none was.
	GetUptimeState(siteID string) ([]byte, error)

	GetIncident(id string) (*Incident, error)
	// ListIncidents lists incidents newest Start first (then newest id);
	// Page.After is an incident id and the page continues with older
	// incidents. ErrNotFound if After names no incident.
	ListIncidents(f IncidentFilter, p Page) ([]*Incident, error)
	// CountIncidents counts the incidents matching f.
	CountIncidents(f IncidentFilter) (int, error)

	GetMaintenanceWindow(id string) (*MaintenanceWindow, error)
	// ListMaintenanceWindows lists the windows overlapping [from, to),
	// ordered by Start (then id): the site's own with siteID, the client's
	// with clientID, with both the site's own and its client's, and with
	// neither every window.
	ListMaintenanceWindows(clientID, siteID string, from, to time.Time) ([]*MaintenanceWindow, error)

	GetAlertChannel(id string) (*AlertChannel, error)
	// ListAlertChannels lists a client's channels in id order; clientID ""
	// lists every channel, the agency's and every client's.
	ListAlertChannels(clientID string) ([]*AlertChannel, error)
	GetAlertDelivery(id string) (*AlertDelivery, error)
	// DueAlertDeliveries returns the pending deliveries whose NextAttempt is
	// at or before now, oldest (by CreateTime, then id) first, at most limit
	// of them (100 when limit <= 0).
	DueAlertDeliveries(now time.Time, limit int) ([]*AlertDelivery, error)
	// ListAlertDeliveries lists a channel's deliveries ("" for every
	// channel's) newest first; Page.After is a delivery id and the page
	// continues with older deliveries.
	ListAlertDeliveries(channelID string, p Page) ([]*AlertDelivery, error)
}

// Tx reads and writes state. Create methods return ErrConflict when a unique
// key is taken, and ErrNotFound when a record they reference (a client, user,
// site or alert channel) is missing.
// Update methods replace every field but ID and CreateTime; Update and Delete
// methods return ErrNotFound for a missing id.
type Tx interface {
	ReadTx

	CreateClient(c *Client) error
	UpdateClient(c *Client) error
	// DeleteClient deletes a client with its users, tokens, alert channels
	// and maintenance windows; ErrInUse if it has sites.
	DeleteClient(id string) error

	// CreateSite inserts a site with its domains; ErrConflict names a taken
	// domain or a (client, name) pair already in use.
	CreateSite(s *Site) error
	// UpdateSite replaces a site's mutable fields and domains.
	UpdateSite(s *Site) error
	// DeleteSite deletes a site with its domains, releases and uptime data:
	// probe results, minutes, tracker state, incidents and maintenance
	// windows.
	DeleteSite(id string) error

	CreateNode(n *Node) error
	UpdateNode(n *Node) error
	DeleteNode(id string) error

	CreateUser(u *User) error
	UpdateUser(u *User) error
	// DeleteUser deletes a user and the tokens acting for it.
	DeleteUser(id string) error

	CreateToken(t *Token) error
	// RevokeToken sets the revoke time of one token; revoking a revoked token
	// is a no-op that keeps the first time.
	RevokeToken(id string, at time.Time) error
	// RevokeUserSessions revokes the user's session tokens except keepID.
	RevokeUserSessions(userID, keepID string, at time.Time) error
	// TouchToken records that a token was used at the given time.
	TouchToken(id string, at time.Time) error

	CreateJoinToken(j *JoinToken) error
	// ConsumeJoinToken marks the unexpired, unused join token with this hash
	// as used and returns it; ErrNotFound if there is none.
	ConsumeJoinToken(hash []byte, now time.Time) (*JoinToken, error)

	// CreateRelease records a release; ErrNotFound if the site is missing.
	CreateRelease(r *Release) error
	// DeleteRelease removes a release record (not the site's current one:
	// ErrInUse).
	DeleteRelease(id string) error

	AppendAuditEvent(e *AuditEvent) error
	// PruneAuditEvents deletes events older than before and returns how many.
	PruneAuditEvents(before time.Time) (int, error)

	SetMeta(key, value string) error

	// PutCertData stores a value under d.Key, replacing any value there.
	PutCertData(d *CertData) error
	// DeleteCertData deletes key and every key under key + "/"; ErrNotFound
	// if nothing matched.
	DeleteCertData(key string) error
	// AcquireCertLock takes the named lock for owner until expires and
	// reports whether it got it: a lock that is free, expired at now, or
	// already owner's (its expiry is then extended) is taken; one held by
	// another owner until after now is not, and no error is returned.
	AcquireCertLock(name, owner string, now, expires time.Time) (bool, error)
	// ReleaseCertLock releases the named lock if owner holds it; releasing
	// a lock owner does not hold is a no-op.
	ReleaseCertLock(name, owner string) error

	// InsertProbeResults stores results and returns how many it stored. It
	// skips a result whose (NodeID, Seq) is stored already, so a
	// retransmitted batch stores nothing twice, and one whose site does not
	// exist (it was deleted while the result was on its way).
	InsertProbeResults(rs []ProbeResult) (int, error)
	// PruneProbeResults deletes results with Time before before and returns
	// how many.
	PruneProbeResults(before time.Time) (int, error)
	// PutSiteMinutes stores minutes, replacing those stored for the same site
	// and minute. Like InsertProbeResults it skips minutes of a site that
	// does not exist.
	PutSiteMinutes(ms []SiteMinute) error
	// PruneSiteMinutes deletes minutes before before and returns how many.
	PruneSiteMinutes(before time.Time) (int, error)
	// PutUptimeState replaces the incident tracker's state of a site: JSON
	// that the store keeps as given. ErrNotFound if the site is missing.
	PutUptimeState(siteID string, state []byte) error

	// CreateIncident records an incident; ErrNotFound if its site is missing.
	CreateIncident(i *Incident) error
	UpdateIncident(i *Incident) error

	// CreateMaintenanceWindow records a window of the site or of the client
	// it names (exactly one); ErrNotFound if that is missing.
	CreateMaintenanceWindow(w *MaintenanceWindow) error
	DeleteMaintenanceWindow(id string) error

	// CreateAlertChannel records a channel; ErrNotFound if its client is
	// missing.
	CreateAlertChannel(c *AlertChannel) error
	// DeleteAlertChannel deletes a channel with its deliveries.
	DeleteAlertChannel(id string) error
	// CreateAlertDelivery records a delivery: ErrConflict if its channel has
	// one with the same DedupKey already (that is how an alert is sent once),
	// ErrNotFound if the channel is missing.
	CreateAlertDelivery(d *AlertDelivery) error
	UpdateAlertDelivery(d *AlertDelivery) error
}
