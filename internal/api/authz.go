package api

import (
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// access is who may call a method at all. Finer rules (a client principal
// reads only its own client's resources) are applied by the handlers, which
// answer NotFound for what the caller may not see.
type access int

const (
	// accessPublic: no credential needed (login).
	accessPublic access = iota + 1
	// accessAuthenticated: any valid admin or client credential.
	accessAuthenticated
	// accessAdmin: agency ops only.
	accessAdmin
	// accessAdminOrClient: admins, and client principals scoped to their client.
	accessAdminOrClient
	// accessNode: node agents, authenticated by their client certificate.
	accessNode
)

// rule is the authorization rule of one method.
type rule struct {
	access access
	// mutates: the call changes state, so it is always audited.
	mutates bool
}

// rules is the authorization table: every RPC has exactly one row, and an RPC
// without a row is denied (TestEveryMethodHasARule keeps it complete).
var rules = map[string]rule{
	berthv1.AuthService_Login_FullMethodName:          {accessPublic, true},
	berthv1.AuthService_Logout_FullMethodName:         {accessAuthenticated, true},
	berthv1.AuthService_ChangePassword_FullMethodName: {accessAuthenticated, true},
	berthv1.AuthService_WhoAmI_FullMethodName:         {accessAuthenticated, false},

	berthv1.ClientService_CreateClient_FullMethodName: {accessAdmin, true},
	berthv1.ClientService_GetClient_FullMethodName:    {accessAdminOrClient, false},
	berthv1.ClientService_ListClients_FullMethodName:  {accessAdminOrClient, false},
	berthv1.ClientService_UpdateClient_FullMethodName: {accessAdmin, true},
	berthv1.ClientService_DeleteClient_FullMethodName: {accessAdmin, true},

	berthv1.SiteService_CreateSite_FullMethodName: {accessAdmin, true},
	berthv1.SiteService_GetSite_FullMethodName:    {accessAdminOrClient, false},
	berthv1.SiteService_ListSites_FullMethodName:  {accessAdminOrClient, false},
	berthv1.SiteService_UpdateSite_FullMethodName: {accessAdmin, true},
	berthv1.SiteService_DeleteSite_FullMethodName: {accessAdmin, true},
	berthv1.SiteService_WatchSite_FullMethodName:  {accessAdminOrClient, false},
	// Reading the WordPress admin password records that it was shown (it is
	// shown once), so the call mutates and is audited.
	berthv1.SiteService_GetSiteCredentials_FullMethodName: {accessAdmin, true},

	berthv1.NodeService_ListNodes_FullMethodName:       {accessAdmin, false},
	berthv1.NodeService_GetNode_FullMethodName:         {accessAdmin, false},
	berthv1.NodeService_DrainNode_FullMethodName:       {accessAdmin, true},
	berthv1.NodeService_DeleteNode_FullMethodName:      {accessAdmin, true},
	berthv1.NodeService_CreateJoinToken_FullMethodName: {accessAdmin, true},

	berthv1.UserService_CreateUser_FullMethodName: {accessAdmin, true},
	berthv1.UserService_GetUser_FullMethodName:    {accessAdmin, false},
	berthv1.UserService_ListUsers_FullMethodName:  {accessAdmin, false},
	berthv1.UserService_DeleteUser_FullMethodName: {accessAdmin, true},

	berthv1.TokenService_CreateToken_FullMethodName: {accessAdminOrClient, true},
	berthv1.TokenService_ListTokens_FullMethodName:  {accessAdminOrClient, false},
	berthv1.TokenService_RevokeToken_FullMethodName: {accessAdminOrClient, true},

	berthv1.AuditService_ListAuditEvents_FullMethodName: {accessAdminOrClient, false},

	// Clients deploy and roll back their own static sites; the handlers
	// answer NotFound for other clients' sites.
	berthv1.ReleaseService_CreateRelease_FullMethodName:   {accessAdminOrClient, true},
	berthv1.ReleaseService_ListReleases_FullMethodName:    {accessAdminOrClient, false},
	berthv1.ReleaseService_ActivateRelease_FullMethodName: {accessAdminOrClient, true},
	berthv1.ReleaseService_DeleteRelease_FullMethodName:   {accessAdmin, true},

	// Clients read their own sites' logs; the handler answers NotFound for
	// other clients' sites.
	berthv1.LogService_GetSiteLogs_FullMethodName: {accessAdminOrClient, false},

	// Join proves itself with the one-time join token in the request.
	agentv1.AgentService_Join_FullMethodName:             {accessPublic, true},
	agentv1.AgentService_RenewCertificate_FullMethodName: {accessNode, true},
	agentv1.AgentService_Connect_FullMethodName:          {accessNode, false},
	// A node fetches only releases of sites placed on it (the handler
	// answers NotFound for others).
	agentv1.AgentService_FetchRelease_FullMethodName: {accessNode, false},
	// A node answers only log requests issued to it (the handler answers
	// NotFound for others).
	agentv1.AgentService_SendLogs_FullMethodName: {accessNode, false},
	// Certificate storage: a node reaches only ACME accounts and the
	// certificates of its own sites' domains (the handlers answer
	// PermissionDenied for others); it signs only its own development names.
	agentv1.AgentService_GetCertData_FullMethodName:     {accessNode, false},
	agentv1.AgentService_PutCertData_FullMethodName:     {accessNode, true},
	agentv1.AgentService_DeleteCertData_FullMethodName:  {accessNode, true},
	agentv1.AgentService_ListCertData_FullMethodName:    {accessNode, false},
	agentv1.AgentService_StatCertData_FullMethodName:    {accessNode, false},
	agentv1.AgentService_LockCertData_FullMethodName:    {accessNode, false},
	agentv1.AgentService_UnlockCertData_FullMethodName:  {accessNode, false},
	agentv1.AgentService_SignCertificate_FullMethodName: {accessNode, true},

	// Clients read their own sites' uptime, incidents, reports and
	// maintenance windows; the handlers answer NotFound for others.
	berthv1.UptimeService_GetSiteUptime_FullMethodName:           {accessAdminOrClient, false},
	berthv1.UptimeService_BatchGetSiteStatus_FullMethodName:      {accessAdminOrClient, false},
	berthv1.UptimeService_ListIncidents_FullMethodName:           {accessAdminOrClient, false},
	berthv1.UptimeService_GetIncident_FullMethodName:             {accessAdminOrClient, false},
	berthv1.UptimeService_GetSLAReport_FullMethodName:            {accessAdminOrClient, false},
	berthv1.UptimeService_ListMaintenanceWindows_FullMethodName:  {accessAdminOrClient, false},
	berthv1.UptimeService_CreateMaintenanceWindow_FullMethodName: {accessAdmin, true},
	berthv1.UptimeService_DeleteMaintenanceWindow_FullMethodName: {accessAdmin, true},

	berthv1.AlertService_CreateAlertChannel_FullMethodName:  {accessAdmin, true},
	berthv1.AlertService_ListAlertChannels_FullMethodName:   {accessAdmin, false},
	berthv1.AlertService_DeleteAlertChannel_FullMethodName:  {accessAdmin, true},
	berthv1.AlertService_TestAlertChannel_FullMethodName:    {accessAdmin, true},
	berthv1.AlertService_ListAlertDeliveries_FullMethodName: {accessAdmin, false},

	// Status pages are for the clients' customers: anyone may read a
	// published page, and the handlers answer NotFound alike for unknown
	// slugs and unpublished pages. Reads, so not audited: anonymous callers
	// cannot fill the audit log.
	berthv1.StatusPageService_GetStatusPage_FullMethodName:     {accessPublic, false},
	berthv1.StatusPageService_GetStatusPageLogo_FullMethodName: {accessPublic, false},
}

// Infrastructure services are public: reflection describes the same schema
// as the public OpenAPI document, and health tells load balancers nothing
// more than /readyz.
func init() {
	for _, m := range []string{
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
		"/grpc.health.v1.Health/Check",
		"/grpc.health.v1.Health/List",
		"/grpc.health.v1.Health/Watch",
	} {
		rules[m] = rule{access: accessPublic}
	}
}
