package store

import (
	"errors"
	"fmt"
	"testing"
)

// pagedTx serves ListSites from a slice in id order, as the store does.
type pagedTx struct {
	ReadTx // nil: only ListSites is used
	sites  []*Site
	calls  int
	fail   error
}

func (tx *pagedTx) ListSites(f SiteFilter, p Page) ([]*Site, error) {
	tx.calls++
	if tx.fail != nil && tx.calls > 1 {
		return nil, tx.fail
	}
	var out []*Site
	for _, s := range tx.sites {
		if s.ID > p.After && (f.ClientID == "" || s.ClientID == f.ClientID) && len(out) < p.Limit {
			out = append(out, s)
		}
	}
	return out, nil
}

func TestAllSites(t *testing.T) {
	tx := &pagedTx{}
	for i := range 2*sitePage + 1 {
		tx.sites = append(tx.sites, &Site{ID: fmt.Sprintf("site_%05d", i), ClientID: fmt.Sprint("cl_", i%2)})
	}
	var got []string
	for s, err := range AllSites(tx, SiteFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.ID)
	}
	if len(got) != len(tx.sites) || got[0] != "site_00000" || got[len(got)-1] != tx.sites[len(tx.sites)-1].ID || tx.calls != 3 {
		t.Errorf("yielded %d sites in %d pages, want %d in 3", len(got), tx.calls, len(tx.sites))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order: %s after %s", got[i], got[i-1])
		}
	}

	// The filter reaches the store; breaking stops the reads.
	tx.calls = 0
	n := 0
	for s, err := range AllSites(tx, SiteFilter{ClientID: "cl_1"}) {
		if err != nil || s.ClientID != "cl_1" {
			t.Fatalf("yielded %v, %v", s, err)
		}
		if n++; n == 10 {
			break
		}
	}
	if tx.calls != 1 {
		t.Errorf("%d reads for 10 sites, want 1", tx.calls)
	}

	// An error is yielded once, and ends the sequence.
	tx.calls, tx.fail = 0, errors.New("disk on fire")
	var errs, sites int
	for s, err := range AllSites(tx, SiteFilter{}) {
		if err != nil {
			errs++
			if s != nil || !errors.Is(err, tx.fail) {
				t.Errorf("error yield = %v, %v", s, err)
			}
			continue // the sequence itself must end
		}
		sites++
	}
	if errs != 1 || sites != sitePage {
		t.Errorf("%d errors after %d sites, want 1 after %d", errs, sites, sitePage)
	}
}
