// Package release installs static-site releases on a node: it unpacks
// uploaded bundles with package bundle and keeps them in a layout that lets
// the web server switch between them atomically.
//
// # Layout
//
// A Dir holds one site's releases:
//
//	<root>/releases/<id>/...      one directory per installed release, never modified
//	<root>/releases/.tmp-<id>-*   an Install in progress (or interrupted)
//	<root>/current -> releases/<id>
//
// Install unpacks into a temporary directory, fsyncs it and renames it into
// place, so releases/<id> is either absent or complete. Activate replaces
// the current symlink with rename(2), so a reader that opens
// current/index.html gets the old release or the new one, complete, and
// never an error; files already open keep reading the release they were
// opened in. Rollback is Activate with an older id.
package release
