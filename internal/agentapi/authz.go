package agentapi

import (
	"github.com/fixaroo/berth/internal/rpc"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// Rules returns the authorization table of the node contract: every RPC of
// berth.agent.v1 has exactly one row (TestEveryMethodHasARule keeps it
// complete), and the rpc.Gate denies a method without a row. Every method
// but Join is for node agents, authenticated by the client certificate
// berthd's CA signed for them; people's credentials are refused.
func Rules() rpc.Rules {
	return rpc.Rules{
		// Join proves itself with the one-time join token in the request.
		agentv1.AgentService_Join_FullMethodName:             {Access: rpc.Public, Mutates: true},
		agentv1.AgentService_RenewCertificate_FullMethodName: {Access: rpc.Node, Mutates: true},
		agentv1.AgentService_Connect_FullMethodName:          {Access: rpc.Node},
		// A node fetches only releases of sites placed on it (the handler
		// answers NotFound for others).
		agentv1.AgentService_FetchRelease_FullMethodName: {Access: rpc.Node},
		// A node answers only log requests issued to it (the handler answers
		// NotFound for others).
		agentv1.AgentService_SendLogs_FullMethodName: {Access: rpc.Node},
		// Certificate storage: a node reaches only ACME accounts and the
		// certificates of its own sites' domains (the handlers answer
		// PermissionDenied for others); it signs only its own development names.
		agentv1.AgentService_GetCertData_FullMethodName:     {Access: rpc.Node},
		agentv1.AgentService_PutCertData_FullMethodName:     {Access: rpc.Node, Mutates: true},
		agentv1.AgentService_DeleteCertData_FullMethodName:  {Access: rpc.Node, Mutates: true},
		agentv1.AgentService_ListCertData_FullMethodName:    {Access: rpc.Node},
		agentv1.AgentService_StatCertData_FullMethodName:    {Access: rpc.Node},
		agentv1.AgentService_LockCertData_FullMethodName:    {Access: rpc.Node},
		agentv1.AgentService_UnlockCertData_FullMethodName:  {Access: rpc.Node},
		agentv1.AgentService_SignCertificate_FullMethodName: {Access: rpc.Node, Mutates: true},
	}
}
