// Package bundle unpacks static-site release bundles (gzip-compressed tar
// archives) safely. berthd unpacks each upload to check it before it
// records a release; a node unpacks it again to install it (package
// agents/release). Both use the same code and the same Limits.
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
package bundle
