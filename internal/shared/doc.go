// Package shared holds, in its subpackages, the code both halves of Berth
// use: berthd (internal/...) and the node (agents/...). See README.md for
// the rule that keeps them shareable; deps_test.go enforces who may import
// what.
package shared
