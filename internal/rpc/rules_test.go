package rpc

import "testing"

// TestMergeRefusesTwoRules checks that a method named by two services'
// tables is a wiring error rather than one table silently winning.
func TestMergeRefusesTwoRules(t *testing.T) {
	a := Rules{"/x.v1.S/A": {Access: Public}}
	b := Rules{"/x.v1.S/B": {Access: Node}}
	all, err := merge([]Rules{a, b, InfrastructureRules()})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2+len(InfrastructureRules()) || all["/x.v1.S/B"].Access != Node {
		t.Errorf("merge = %v", all)
	}
	if _, err := merge([]Rules{a, {"/x.v1.S/A": {Access: Admin}}}); err == nil {
		t.Error("merge of two rules for one method succeeded")
	}
}
