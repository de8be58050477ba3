package alerts

import "time"

// Channel kinds.
const (
	KindWebhook = "webhook" // POST of the alert as JSON
	KindSlack   = "slack"   // POST of a Slack-compatible {"text": ...}
	KindEmail   = "email"   // mail through an SMTP server
)

// Events an Alert can carry.
const (
	EventIncidentOpened      = "incident.opened"
	EventIncidentResolved    = "incident.resolved"
	EventCertificateFailing  = "certificate.failing"
	EventCertificateExpiring = "certificate.expiring"
	EventNodeNotReady        = "node.not_ready"
	EventTest                = "test"
)

// Channel is where alerts go: one client's channel (ClientID set) or the
// agency's (ClientID empty). The control plane fills it from the store with
// secrets decrypted; Send never logs or returns URL and SMTPPassword.
type Channel struct {
	ID       string
	ClientID string
	Name     string
	Kind     string // KindWebhook, KindSlack or KindEmail

	// URL is the webhook's address (webhook and slack). Its path and query
	// often carry a token, so it is treated as a secret.
	URL string

	// SMTPAddress is the mail server, "host:port" (email). Port 465 means
	// implicit TLS; any other port must offer STARTTLS.
	SMTPAddress  string
	SMTPUsername string // empty: no AUTH
	SMTPPassword string
	EmailFrom    string   // bare address, envelope and From header
	EmailTo      []string // bare addresses, envelope and To header
}

// Alert is one event to deliver.
type Alert struct {
	Event   string    // one of the Event constants
	Subject string    // one line, e.g. "DOWN: www.example.com (Acme Ltd)"
	Text    string    // plain-text body
	Time    time.Time // when the event happened; zero means now

	// Fields carry the event's details for machines: site_id, site,
	// client_id, incident_id, domain, node, started, resolved, duration, …
	// The generic webhook includes them; Slack and e-mail do not.
	Fields map[string]string
}
