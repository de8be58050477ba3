package store

import "time"

// Client is one of the agency's customers.
type Client struct {
	ID           string
	DisplayName  string
	Slug         string
	ContactEmail string
	CreateTime   time.Time
	UpdateTime   time.Time
	StatusPage   StatusPage
}

// StatusPage is a client's public status page settings.
type StatusPage struct {
	// Enabled publishes the page.
	Enabled bool
	// SiteIDs are the sites the page shows, in order. The store keeps them
	// as written: a deleted site's id stays until the next update, and
	// readers skip ids that no longer name one of the client's sites.
	SiteIDs []string
	// AccentColor is "#rrggbb", or "" for the default.
	AccentColor string
	// Logo is the page's image. ListClients leaves it nil and sets only
	// HasLogo; UpdateClient writes Logo as given and ignores HasLogo.
	Logo []byte
	// HasLogo tells that a logo is stored.
	HasLogo bool
}

// SiteKind is what runs a site.
type SiteKind string

// Site kinds.
const (
	SiteKindWordPress SiteKind = "wordpress"
	SiteKindStatic    SiteKind = "static"
)

// SiteState is where a site is in its life.
type SiteState string

// Site states.
const (
	SiteStatePending      SiteState = "pending"
	SiteStateProvisioning SiteState = "provisioning"
	SiteStateRunning      SiteState = "running"
	SiteStateFailed       SiteState = "failed"
	SiteStateDeleting     SiteState = "deleting"
)

// Condition is one aspect of a site's observed state.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"last_transition_time"`
}

// SetCondition replaces the condition of c's type in conds, or adds it. The
// transition time is kept when the status does not change.
func SetCondition(conds []Condition, c Condition) []Condition {
	for i := range conds {
		if conds[i].Type == c.Type {
			if conds[i].Status == c.Status {
				c.LastTransitionTime = conds[i].LastTransitionTime
			}
			conds[i] = c
			return conds
		}
	}
	return append(conds, c)
}

// Site is a website: its spec (desired state) and what its node reported.
type Site struct {
	ID            string
	ClientID      string
	Name          string
	Kind          SiteKind
	PrimaryDomain string
	AliasDomains  []string
	MemoryMiB     int32
	CPUMillicores int32
	// WPTitle and WPAdminEmail are set for WordPress sites.
	WPTitle      string
	WPAdminEmail string
	// Secrets holds the site's generated credentials (database and admin
	// passwords). Implementations encrypt it at rest.
	Secrets map[string]string

	// ReleaseID is the static release the site should serve ("" for none).
	ReleaseID string

	// CheckIntervalSeconds, CheckExpectedStatus and CheckKeyword tune the
	// site's uptime probes; zero values mean the fleet's defaults (the
	// probe interval, status 200, no keyword).
	CheckIntervalSeconds int32
	CheckExpectedStatus  int32
	CheckKeyword         string

	// HSTS sends Strict-Transport-Security for the site.
	HSTS bool
	// RedirectAliases makes alias domains answer with a redirect to the
	// primary domain instead of serving the site.
	RedirectAliases bool

	NodeID             string
	State              SiteState
	Conditions         []Condition
	Certificates       []CertificateStatus // what the serving node last reported, one per domain
	Generation         int64
	ObservedGeneration int64
	CreateTime         time.Time
	UpdateTime         time.Time
}

// CertificateStatus is the state of one domain's certificate as its node reported it.
type CertificateStatus struct {
	Domain      string    `json:"domain"`
	Issuer      string    `json:"issuer,omitempty"`     // e.g. "acme:127.0.0.1:14000" or "internal"
	NotAfter    time.Time `json:"not_after"`            // zero if none yet
	LastAttempt time.Time `json:"last_attempt"`         // last obtain/renew attempt, zero if none
	LastError   string    `json:"last_error,omitempty"` // the CA's error text of the last failed attempt, "" after success
	Managed     bool      `json:"managed,omitempty"`    // the node is managing (obtaining/renewing) it
}

// Domains returns the primary domain followed by the aliases.
func (s *Site) Domains() []string {
	return append([]string{s.PrimaryDomain}, s.AliasDomains...)
}

// SiteFilter selects sites; empty fields match everything.
type SiteFilter struct {
	ClientID string
	NodeID   string
	State    SiteState
	// Query keeps sites whose name or one of whose domains contains it,
	// ignoring ASCII case.
	Query string
}

// NodeState is whether a node takes work.
type NodeState string

// Node states.
const (
	NodeStateReady    NodeState = "ready"
	NodeStateNotReady NodeState = "not_ready"
	NodeStateDraining NodeState = "draining"
)

// Node is a server running berth-agent.
type Node struct {
	ID                string
	Name              string
	State             NodeState
	MemoryMiB         int64
	CPUMillicores     int32
	DiskMiB           int64
	Labels            map[string]string
	AgentVersion      string
	DockerVersion     string
	LastHeartbeatTime time.Time
	CreateTime        time.Time
	// EdgeAddress is where the node's edge answers ("host:port"), as its
	// agent last announced it; "" until it has.
	EdgeAddress string
}

// Role is what a principal may do.
type Role string

// Roles.
const (
	RoleAdmin  Role = "admin"
	RoleClient Role = "client"
	// RoleNode is a node agent proven by its client certificate; it is never
	// stored on a token.
	RoleNode Role = "node"
)

// User is a person who logs in.
type User struct {
	ID       string
	Email    string
	Role     Role
	ClientID string
	// PasswordHash is an encoded argon2id hash.
	PasswordHash string
	CreateTime   time.Time
	UpdateTime   time.Time
}

// TokenKind tells API tokens from login sessions.
type TokenKind string

// Token kinds.
const (
	TokenKindAPI     TokenKind = "api"
	TokenKindSession TokenKind = "session"
)

// Token is a bearer credential. Only the SHA-256 of its secret is stored.
type Token struct {
	ID       string
	Name     string
	Kind     TokenKind
	Role     Role
	ClientID string
	UserID   string
	Hash     []byte
	// ExpireTime, LastUsedTime and RevokeTime are zero when unset.
	CreateTime   time.Time
	ExpireTime   time.Time
	LastUsedTime time.Time
	RevokeTime   time.Time
}

// TokenFilter selects tokens.
type TokenFilter struct {
	// ClientID keeps only this client's tokens when set.
	ClientID string
	// IncludeInactive also lists revoked and expired tokens.
	IncludeInactive bool
	// Now decides expiry when IncludeInactive is false; callers set it.
	Now time.Time
	// Kind keeps only tokens of this kind when set.
	Kind TokenKind
}

// JoinToken lets one node join the fleet once.
type JoinToken struct {
	ID         string
	Hash       []byte
	CreatedBy  string
	CreateTime time.Time
	ExpireTime time.Time
	// UseTime is zero until the token is consumed.
	UseTime time.Time
}

// AuditEvent records one call: who, what, on which resource, and the outcome.
type AuditEvent struct {
	ID         string
	Time       time.Time
	Actor      string
	Method     string
	ResourceID string
	ClientID   string
	Code       string
	Message    string
	Peer       string
}

// AuditFilter selects audit events; empty fields match everything. Start is
// inclusive, End exclusive.
type AuditFilter struct {
	// Method matches the full method name or its final element.
	Method     string
	ResourceID string
	ClientID   string
	FailedOnly bool
	Start, End time.Time
}

// Release is an uploaded bundle of a static site. Bundles are stored
// content-addressed by Digest; the record says which site it belongs to.
type Release struct {
	ID     string
	SiteID string
	// Digest is the hex SHA-256 of the bundle (tar.gz).
	Digest    string
	SizeBytes int64
	// Files and UnpackedBytes are counted when the bundle is checked at upload.
	Files         int
	UnpackedBytes int64
	CreatedBy     string
	CreateTime    time.Time
}

// CertData is one item of certificate storage.
type CertData struct {
	Key        string
	Value      []byte
	ModifyTime time.Time
}

// CertDataInfo describes a key of certificate storage. A terminal key holds
// a value; a non-terminal one is a "directory", the prefix of stored keys.
type CertDataInfo struct {
	Key string
	// Size is the length of the value (0 for a directory).
	Size int64
	// ModifyTime is when the value was put; for a directory, the latest
	// ModifyTime of the keys under it.
	ModifyTime time.Time
	IsTerminal bool
}

// ProbeControlPlane is the ProbeResult.NodeID of the probes that berthd runs
// itself, as opposed to those of a node agent.
const ProbeControlPlane = "berthd"

// ProbeResult is one HTTP check of a site from one vantage: a node agent or
// the control plane. Raw results are kept for about a week; SiteMinute keeps
// their per-minute rollup for longer.
type ProbeResult struct {
	// NodeID is the vantage: a node id, or ProbeControlPlane.
	NodeID string
	// Seq is the vantage's own sequence number for the result. (NodeID, Seq)
	// identifies a result, so a retransmitted one is recognised; a vantage
	// must therefore never reuse one, not even after a restart.
	Seq    uint64
	SiteID string
	Time   time.Time
	OK     bool
	// StatusCode is the HTTP status, 0 if no response arrived.
	StatusCode int32
	// Durations in milliseconds: the whole check and its phases.
	TotalMS     float64
	ConnectMS   float64
	TLSMS       float64
	FirstByteMS float64
	// CertNotAfter is the expiry of the certificate served, zero without TLS.
	CertNotAfter time.Time
	// ErrorClass names the kind of failure from a small, fixed set; Error is
	// its text. Both are "" when OK.
	ErrorClass string
	Error      string
}

// MinuteCounts is CountSiteMinutes' answer.
type MinuteCounts struct {
	// ByStatus counts the stored minutes of each status.
	ByStatus map[int32]int64
	// Last is the latest stored minute (zero when none is) and LastStatus
	// its status.
	Last       time.Time
	LastStatus int32
}

// DayMinuteCounts is the MinuteCounts of one UTC day.
type DayMinuteCounts struct {
	Day time.Time // midnight, UTC
	MinuteCounts
}

// SiteMinute is a site's status over one minute, rolled up from the probe
// results of every vantage.
type SiteMinute struct {
	SiteID string
	// Minute is the start of the minute, in UTC and to the whole minute.
	Minute time.Time
	// Status is the proto MinuteStatus (internal/uptime.Status) as a number;
	// the store does not interpret it.
	Status int32
	// Up counts the successful results of the minute, Total all of them.
	Up    int32
	Total int32
	// Latency percentiles of the minute's results, in milliseconds.
	P50MS float64
	P95MS float64
	P99MS float64
	// ErrorClasses are the distinct error classes seen; FailedVantages the
	// vantages that saw the site fail.
	ErrorClasses   []string
	FailedVantages []string
}

// Incident is a span of time a site was down.
type Incident struct {
	ID     string
	SiteID string
	// ClientID is the client the site belonged to when the incident opened.
	ClientID string
	Start    time.Time
	// End is zero while the incident is open.
	End time.Time
	// ErrorClasses and Vantages are what failed and where it was seen.
	ErrorClasses []string
	Vantages     []string
	CreateTime   time.Time
	UpdateTime   time.Time
}

// Open reports whether the incident has not ended.
func (i *Incident) Open() bool { return i.End.IsZero() }

// IncidentFilter selects incidents; empty fields match everything.
type IncidentFilter struct {
	ClientID string
	SiteID   string
	// From and To keep incidents that overlap [From, To); an open incident
	// lasts until now and beyond. Zero means unbounded.
	From, To time.Time
	// OpenOnly keeps incidents that have not ended.
	OpenOnly bool
}

// MaintenanceWindow is a planned span of time during which a site, or every
// site of a client, is not held to its uptime. Exactly one of SiteID and
// ClientID is set.
type MaintenanceWindow struct {
	ID       string
	SiteID   string
	ClientID string
	// Start is inclusive, End exclusive.
	Start      time.Time
	End        time.Time
	Reason     string
	CreatedBy  string
	CreateTime time.Time
}

// Alert channel kinds.
const (
	AlertChannelWebhook = "webhook"
	AlertChannelSlack   = "slack"
	AlertChannelEmail   = "email"
)

// AlertChannel is a destination for alerts.
type AlertChannel struct {
	ID string
	// ClientID is the client whose alerts the channel receives, "" for the
	// agency's own channels, which receive every client's.
	ClientID string
	Name     string
	// Kind is AlertChannelWebhook, AlertChannelSlack or AlertChannelEmail.
	Kind string
	// Config holds the kind's settings: "url" (webhook, slack), or
	// "smtp_address", "smtp_username", "smtp_password", "email_from" and
	// "email_to" (comma-separated) for email. Implementations encrypt it at
	// rest: URLs of webhooks carry credentials too.
	Config     map[string]string
	CreateTime time.Time
}

// Alert delivery states.
const (
	AlertDeliveryPending   = "pending"
	AlertDeliveryDelivered = "delivered"
	AlertDeliveryFailed    = "failed"
)

// AlertDelivery is one alert to send, or sent, to one channel.
type AlertDelivery struct {
	ID        string
	ChannelID string
	// Event names what happened.
	Event string
	// DedupKey identifies the alert within its channel: a second delivery
	// with the same key is refused. "" never conflicts.
	DedupKey string
	Subject  string
	Body     string
	// State is AlertDeliveryPending until the delivery is delivered or given
	// up (AlertDeliveryFailed).
	State     string
	Attempts  int32
	LastError string
	// NextAttempt is when a pending delivery is due; zero means at once.
	NextAttempt time.Time
	CreateTime  time.Time
	// DeliverTime is when it was delivered, zero until then.
	DeliverTime time.Time
}
