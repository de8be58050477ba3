// Package release installs static-site releases on a node: it unpacks
// uploaded bundles (gzip-compressed tar archives) safely and keeps them in a
// layout that lets the web server switch between them atomically.
//
// # Unpacking
//
// Bundles come from users, so Unpack treats them as hostile. It writes only
// regular files, directories and relative symlinks that stay inside the
// release, and rejects everything else with an error that names the entry
// and says why, for example
//
//	entry "../etc/passwd": path leaves the release
//
// Rejected are absolute paths, ".." that climbs out of the release, entries
// below a symlink, symlinks whose target is absolute or resolves (through
// other symlinks too) outside the release, hard links, devices, FIFOs and
// other special entries, names that contain NUL or are not valid UTF-8, two
// entries for the same path, and archives over Limits. Such errors wrap
// ErrUnsafe or ErrTooLarge; input that is not a complete gzip-compressed tar
// wraps ErrCorrupt. Sizes are counted as bytes are actually read, not taken
// from headers, so a gzip bomb stops at the limit. On any error the
// destination directory is removed: a failed unpack leaves nothing on disk.
//
// Modes in the archive are ignored: files are 0644 and directories 0755, so
// no entry is executable, setuid or setgid. Modification times of files and
// directories are kept. Names are taken as they are: "./index.html" is
// "index.html", but a single top-level directory ("public/") is not stripped.
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
