package agentapi_test

import (
	"testing"
	"time"

	"github.com/fixaroo/berth/agents/client/clienttest"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/store"
)

// TestBerthdConformance runs clienttest's berthd suite, which the fake
// berthd of agents/client's tests runs too, against the real AgentService.
func TestBerthdConformance(t *testing.T) {
	clienttest.RunBerthdSuite(t, func(t *testing.T) clienttest.Berthd {
		s := newServer(t)
		f := newFixture(t, s)
		return clienttest.Berthd{Addr: s.addr, RootCAs: s.ca.Pool(), TakenName: "node-" + f.seq,
			JoinToken: func(t *testing.T) string {
				secret, hash := auth.NewToken(auth.JoinTokenPrefix)
				now := time.Now().UTC()
				s.update(t, func(tx store.Tx) error {
					return tx.CreateJoinToken(&store.JoinToken{ID: store.NewID("jt", now), Hash: hash, CreatedBy: "test", CreateTime: now, ExpireTime: now.Add(10 * time.Minute)})
				})
				return secret
			}}
	})
}
