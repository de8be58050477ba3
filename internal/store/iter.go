package store

import "iter"

// sitePage is how many sites AllSites reads at a time.
const sitePage = 1000

// AllSites yields every site matching f, in id order, reading a page at a
// time. On an error it yields (nil, err) and stops. Within a write
// transaction the loop body may update the site it is given.
func AllSites(tx ReadTx, f SiteFilter) iter.Seq2[*Site, error] {
	return func(yield func(*Site, error) bool) {
		p := Page{Limit: sitePage}
		for {
			sites, err := tx.ListSites(f, p)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, s := range sites {
				if !yield(s, nil) {
					return
				}
			}
			if len(sites) < p.Limit {
				return
			}
			p.After = sites[len(sites)-1].ID
		}
	}
}
