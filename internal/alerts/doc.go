// Package alerts delivers Berth's alerts — incident opened and resolved, a
// certificate failing to renew or expiring soon, a node not ready — to the
// channels an agency and its clients configure: a generic JSON webhook, a
// Slack-compatible webhook or e-mail through an SMTP server.
//
// The package knows nothing of the store or the API. The control plane loads
// a channel's settings (secrets decrypted), turns them into a [Channel],
// builds an [Alert] and calls [Sender.Send] once per attempt; it records the
// outcome and asks [NextAttempt] when to try again:
//
//	event ──► Alert ──► Sender.Send(ctx, Channel, Alert) ──► ok: delivered
//	                          │
//	                          └─ error ──► NextAttempt(attempts, now)
//	                                          ├─ retry at t (10 s … 1 h)
//	                                          └─ give up: failed
//
// The generic webhook receives a POST with Content-Type application/json
// and User-Agent Berth-Alerts/1:
//
//	{"event": "incident.opened", "subject": "DOWN: www.example.com (Acme Ltd)",
//	 "text": "…", "time": "2026-03-04T09:04:00Z",
//	 "fields": {"site_id": "…", "incident_id": "…", "domain": "www.example.com"}}
//
// A Slack channel receives {"text": subject + "\n" + text}. Any 2xx answer is
// success. E-mail is a text/plain UTF-8 message (quoted-printable) with an
// RFC 2047 subject, Auto-Submitted: auto-generated and X-Berth-Event.
//
// # Validation
//
// [ValidateChannel] checks a channel before it is stored and returns a
// *validate.Error naming the API field (url, smtp_address, email_to[1], …),
// which the API layer maps to InvalidArgument. Send checks the delivery
// settings again, so a channel stored by an older version cannot make it
// dial somewhere it should not; such an error will not go away by retrying.
//
// # Safety
//
// Channel settings come from users, so Send treats them as untrusted:
//
//   - Webhook URLs must be http or https; redirects are never followed, and
//     the default HTTP client and SMTP dialer refuse link-local and cloud
//     metadata addresses at connect time, after DNS resolution. The control
//     plane passes a client built on the probe guard's dialer instead.
//   - Mail is sent only over STARTTLS with a verified certificate (or
//     implicit TLS on port 465); plain SMTP, and AUTH PLAIN over it, are
//     allowed only when the server is on a loopback address and
//     [Sender.AllowPlainLoopback] is set.
//   - Errors never contain a secret: a URL is shown as scheme and host only
//     (its path and query often carry the webhook's token) and SMTP
//     passwords are never echoed.
//   - Alert subjects cannot inject mail headers: line breaks and control
//     characters become spaces, and non-ASCII subjects are RFC 2047 encoded.
package alerts
