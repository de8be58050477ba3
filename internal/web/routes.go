package web

import "net/http"

// routeTable is every page and form of the dashboard with who may use it.
// The API authorizes each call again; Admin routes only spare client users
// pages that would show them nothing.
func (s *Server) routeTable() []Route {
	type h = func(http.ResponseWriter, *http.Request, *session)
	r := func(method, pattern string, access Access, handler h) Route {
		return Route{Method: method, Pattern: pattern, Access: access, handler: handler}
	}
	return []Route{
		r("GET", "/{$}", Anyone, s.home),
		r("GET", "/login", Public, s.loginPage),
		{Method: "POST", Pattern: "/login", Access: Public, NoCSRF: true, handler: s.login},
		r("POST", "/logout", Anyone, s.logout),
		r("GET", "/account", Anyone, s.account),
		r("POST", "/account/password", Anyone, s.changePassword),

		// Ops console.
		r("GET", "/ops", Admin, s.overview),
		r("GET", "/ops/clients", Admin, s.clientList),
		r("GET", "/ops/clients/new", Admin, s.clientNew),
		r("POST", "/ops/clients", Admin, s.clientCreate),
		r("GET", "/ops/clients/{id}", Admin, s.clientDetail),
		r("POST", "/ops/clients/{id}", Admin, s.clientUpdate),
		r("POST", "/ops/clients/{id}/users", Admin, s.userCreate),
		r("POST", "/ops/clients/{id}/users/{uid}/delete", Admin, s.userDelete),
		r("POST", "/ops/clients/{id}/channels", Admin, s.channelCreate),
		r("POST", "/ops/clients/{id}/channels/{cid}/delete", Admin, s.channelDelete),
		r("POST", "/ops/clients/{id}/status-page", Admin, s.statusPageUpdate),
		{Method: "POST", Pattern: "/ops/clients/{id}/logo", Access: Admin, NoCSRF: true, handler: s.logoUpload},
		r("GET", "/ops/sites", Admin, s.siteList),
		r("GET", "/ops/sites/new", Admin, s.siteNew),
		r("POST", "/ops/sites", Admin, s.siteCreate),
		r("GET", "/ops/nodes", Admin, s.nodeList),
		r("GET", "/ops/nodes/join", Admin, s.joinPage),
		r("POST", "/ops/nodes/join", Admin, s.joinCreate),
		r("GET", "/ops/nodes/{id}", Admin, s.nodeDetail),
		r("POST", "/ops/nodes/{id}/drain", Admin, s.nodeDrain),
		r("GET", "/ops/maintenance", Admin, s.maintenanceList),
		r("POST", "/ops/maintenance", Admin, s.maintenanceCreate),
		r("POST", "/ops/maintenance/{id}/delete", Admin, s.maintenanceDelete),
		r("GET", "/ops/audit", Admin, s.auditList),

		// Sites, for ops and for their client.
		r("GET", "/sites/{id}", Anyone, s.siteDetail),
		r("GET", "/sites/{id}/progress.json", Anyone, s.siteProgress),
		r("GET", "/sites/{id}/logs", Anyone, s.siteLogs),
		{Method: "POST", Pattern: "/sites/{id}/releases", Access: Anyone, NoCSRF: true, handler: s.releaseUpload},
		r("POST", "/sites/{id}/releases/{rid}/activate", Anyone, s.releaseActivate),
		r("GET", "/sites/{id}/delete", Admin, s.siteDeleteConfirm),
		r("POST", "/sites/{id}/delete", Admin, s.siteDelete),
		r("GET", "/incidents/{id}", Anyone, s.incidentDetail),

		// Client portal and reports.
		r("GET", "/portal", Anyone, s.portal),
		r("GET", "/clients/{id}/reports", Anyone, s.reportIndex),
		r("GET", "/clients/{id}/reports/{month}", Anyone, s.report),

		// Public status pages.
		r("GET", "/status/{slug}", Public, s.statusPage),
		r("GET", "/status/{slug}/logo", Public, s.statusLogo),
		r("GET", "/status/{slug}/theme.css", Public, s.statusTheme),
	}
}
