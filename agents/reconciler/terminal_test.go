package reconciler

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fixaroo/berth/agents/terminal"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// TestTerminalErrorsFailTheSite checks how a reconcile error reaches the
// site's status: a terminal error fails the site and is not retried; any
// other error keeps the site provisioning and is retried.
func TestTerminalErrorsFailTheSite(t *testing.T) {
	got := map[string]*agentv1.SiteStatus{}
	r := New(Options{NodeID: exampleNodeID, DataDir: t.TempDir(), Report: func(st *agentv1.SiteStatus) { got[st.GetSiteId()] = st }})
	r.Apply(t.Context(), &agentv1.DesiredState{Revision: 1, Sites: []*agentv1.SiteAssignment{
		{SiteId: "site_unknown", Generation: 1},
		{SiteId: "site_wp", Kind: agentv1.SiteKind_SITE_KIND_WORDPRESS, Generation: 2},
	}})
	for id, want := range map[string]string{"site_unknown": "unknown site kind", "site_wp": "credentials are missing"} {
		if err := r.reconcile(t.Context(), id); err != nil {
			t.Errorf("reconcile %s = %v, want nil: retrying a terminal error cannot help", id, err)
		}
		st := got[id]
		if st.GetState() != agentv1.SiteState_SITE_STATE_FAILED || len(st.GetConditions()) != 1 ||
			st.GetConditions()[0].GetReason() != "Failed" || !strings.Contains(st.GetConditions()[0].GetMessage(), want) {
			t.Errorf("status of %s = %v, want FAILED with reason Failed and a message about %q", id, st, want)
		}
	}

	want := &agentv1.SiteAssignment{SiteId: "site_x", Generation: 3}
	for _, tc := range []struct {
		err    error
		state  agentv1.SiteState
		reason string
	}{
		{errors.New("engine busy"), agentv1.SiteState_SITE_STATE_PROVISIONING, "Retrying"},
		{fmt.Errorf("create container berth-site_x: %w", terminal.Errorf("memory limit 4 MiB: at least 6 MiB is required")),
			agentv1.SiteState_SITE_STATE_FAILED, "Failed"},
	} {
		st := failedStatus(want, tc.err)
		if st.GetState() != tc.state || st.GetConditions()[0].GetReason() != tc.reason || st.GetConditions()[0].GetMessage() != tc.err.Error() {
			t.Errorf("failedStatus(%v) = %v, want state %v, reason %s", tc.err, st, tc.state, tc.reason)
		}
	}
}
