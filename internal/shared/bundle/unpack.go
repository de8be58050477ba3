package bundle

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors wrapped by Unpack; compare with errors.Is.
var (
	// ErrUnsafe is wrapped by every rejection of an entry that could escape
	// the release or create something other than a plain file, directory or
	// contained symlink.
	ErrUnsafe = errors.New("bundle: unsafe archive")
	// ErrTooLarge is wrapped when an archive exceeds its Limits.
	ErrTooLarge = errors.New("bundle: archive too large")
	// ErrCorrupt is wrapped when the input is not a complete, valid
	// gzip-compressed tar archive (not gzip, truncated, bad checksum).
	ErrCorrupt = errors.New("bundle: corrupt archive")
)

const (
	defaultMaxBytes           = 512 << 20
	defaultMaxFiles           = 100_000
	defaultMaxCompressedBytes = 256 << 20

	// maxName bounds an entry name or symlink target; it is PATH_MAX on Linux.
	maxName = 4096
	// maxDepth bounds how many directories deep an entry may be. Every
	// operation walks the path component by component, so depth costs time.
	maxDepth = 128
	// maxHops is how many symlinks one target may go through (Linux: 40).
	maxHops = 40
	// perEntryOverhead is how many bytes of tar framing (header, PAX header
	// and records, padding) each entry may add to the decompressed stream.
	perEntryOverhead = 8 << 10
	// fixedOverhead allows for the first header and end-of-archive padding.
	fixedOverhead = 1 << 20
)

// Limits bounds what one archive may unpack to. Zero or negative fields mean
// the default.
type Limits struct {
	// MaxBytes bounds the total size of the files in the release, counted
	// as bytes are written. Default 512 MiB. The decompressed stream may be
	// larger only by tar framing: 8 KiB per entry and 1 MiB in all.
	MaxBytes int64
	// MaxFiles bounds how many files, directories (including those implied
	// by a path such as "a/b/c.html") and symlinks the release creates, and
	// how many entries the archive may have. Default 100 000.
	MaxFiles int
	// MaxCompressedBytes bounds how many bytes are read from the input.
	// Default 256 MiB.
	MaxCompressedBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = defaultMaxFiles
	}
	if l.MaxCompressedBytes <= 0 {
		l.MaxCompressedBytes = defaultMaxCompressedBytes
	}
	return l
}

// Stats describes an unpacked release.
type Stats struct {
	Files int   // files, directories and symlinks created, as counted against Limits.MaxFiles
	Bytes int64 // bytes of file content written
}

// Unpack reads a gzip-compressed tar archive from r into dir, which must not
// exist yet; its parent must. dir is created with mode 0755.
//
// Unpack rejects unsafe entries (see the package doc) with an error that
// names the entry and wraps ErrUnsafe, archives over lim with ErrTooLarge
// and malformed input with ErrCorrupt; such errors wrap an [*ArchiveError].
// On any error, including the end of ctx, it removes dir and everything in
// it. It does not fsync.
func Unpack(ctx context.Context, r io.Reader, dir string, lim Limits) (Stats, error) {
	return unpack(ctx, r, dir, lim, false)
}

// UnpackSynced is Unpack, and it also fsyncs every file and directory it
// creates before returning, for a release that must survive a crash.
func UnpackSynced(ctx context.Context, r io.Reader, dir string, lim Limits) (Stats, error) {
	return unpack(ctx, r, dir, lim, true)
}

// unpack is Unpack; with sync set it also fsyncs every file and directory
// it creates before returning.
func unpack(ctx context.Context, r io.Reader, dir string, lim Limits, sync bool) (Stats, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("create release directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err == nil {
		u := &unpacker{root: root, lim: lim.withDefaults(), sync: sync, tree: map[string]*node{}}
		err = root.Chmod(".", 0o755) // whatever the umask
		if err == nil {
			err = u.run(ctx, r)
		}
		err = errors.Join(err, root.Close())
		if err == nil {
			return u.stats, nil
		}
	}
	if rmErr := os.RemoveAll(dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove failed release: %w", rmErr))
	}
	return Stats{}, err
}

type kind uint8

const (
	impliedDir kind = iota // created for a path's parent, no entry of its own
	dirEntry
	fileEntry
	symlinkEntry
)

// node is what unpacking has created at one path of the release.
type node struct {
	kind   kind
	target string    // symlinkEntry: the link target
	mtime  time.Time // dirEntry: set once everything below exists
}

type unpacker struct {
	root  *os.Root
	lim   Limits
	sync  bool
	buf   []byte // for copying file content, reused across files
	stats Stats
	// tree maps every path created (clean, slash-separated, relative to the
	// root, the root itself excluded) to what is there. The release starts
	// empty and only Unpack writes to it, so tree is the truth about the
	// disk: nothing needs to be read back to decide whether a path is safe.
	tree map[string]*node
}

func (u *unpacker) run(ctx context.Context, r io.Reader) error {
	in := &limitReader{ctx: ctx, r: r, n: u.lim.MaxCompressedBytes, input: true,
		err: &ArchiveError{Reason: fmt.Sprintf("compressed archive is larger than %d bytes (MaxCompressedBytes)", u.lim.MaxCompressedBytes), kind: ErrTooLarge}}
	gz, err := gzip.NewReader(in)
	if err != nil {
		return readErr("read gzip header", err)
	}
	// The decompressed stream may hold the content (MaxBytes, enforced as
	// it is written) and some framing per entry seen so far: junk between
	// or after entries cannot inflate much beyond what real entries justify.
	data := &limitReader{ctx: ctx, r: gz, n: u.lim.MaxBytes + fixedOverhead,
		err: &ArchiveError{Reason: "archive decompresses to more than its files and tar framing need", kind: ErrTooLarge}}
	tr := tar.NewReader(data)
	for entries := 1; ; entries++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
			err = nil // GODEBUG=tarinsecurepath=0; our own checks say which entry and why
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return readErr("read tar header", err)
		}
		if entries > u.lim.MaxFiles {
			return tooLargeEntry(hdr.Name, fmt.Sprintf("archive has more than %d entries (MaxFiles)", u.lim.MaxFiles))
		}
		data.n += perEntryOverhead
		if err := u.entry(hdr, tr); err != nil {
			return err
		}
	}
	if err := u.checkSymlinks(); err != nil {
		return err
	}
	// Read to the end so that gzip verifies its checksum and length: an
	// archive cut short after the last tar header is still truncated.
	if _, err := io.Copy(io.Discard, data); err != nil {
		return readErr("read end of archive", err)
	}
	return u.finishDirs()
}

// entry unpacks one tar entry, reading its content from tr.
func (u *unpacker) entry(hdr *tar.Header, tr io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX comments such as git archive's commit id
	}
	name, reason := cleanName(hdr.Name)
	if reason != "" {
		return unsafeEntry(hdr.Name, reason)
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil // "./": the release directory itself
		}
		return unsafeEntry(hdr.Name, "only a directory may name the release root")
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink:
	case tar.TypeLink:
		return unsafeEntry(hdr.Name, "hard links are not allowed")
	case tar.TypeChar:
		return unsafeEntry(hdr.Name, "character devices are not allowed")
	case tar.TypeBlock:
		return unsafeEntry(hdr.Name, "block devices are not allowed")
	case tar.TypeFifo:
		return unsafeEntry(hdr.Name, "FIFOs are not allowed")
	case tar.TypeGNUSparse:
		return unsafeEntry(hdr.Name, "sparse files are not supported")
	default:
		return unsafeEntry(hdr.Name, fmt.Sprintf("entry type %q is not supported", hdr.Typeflag))
	}
	if err := u.parents(hdr.Name, name); err != nil {
		return err
	}
	if n := u.tree[name]; n != nil {
		if n.kind == impliedDir && hdr.Typeflag == tar.TypeDir {
			n.kind, n.mtime = dirEntry, hdr.ModTime
			return nil
		}
		return unsafeEntry(hdr.Name, "duplicate entry for this path")
	}
	if err := u.count(hdr.Name); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := u.mkdir(name); err != nil {
			return entryErr(hdr.Name, err)
		}
		u.tree[name] = &node{kind: dirEntry, mtime: hdr.ModTime}
	case tar.TypeSymlink:
		if reason := checkTarget(name, hdr.Linkname); reason != "" {
			return unsafeEntry(hdr.Name, reason)
		}
		if err := u.root.Symlink(hdr.Linkname, name); err != nil {
			return entryErr(hdr.Name, err)
		}
		u.tree[name] = &node{kind: symlinkEntry, target: hdr.Linkname}
	default:
		u.tree[name] = &node{kind: fileEntry}
		return u.file(hdr, name, tr)
	}
	return nil
}

// parents creates the directories above name that no entry has created yet
// and fails if a path above name is not a directory.
func (u *unpacker) parents(entry, name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		p := name[:i]
		n := u.tree[p]
		switch {
		case n == nil:
			if err := u.count(entry); err != nil {
				return err
			}
			if err := u.mkdir(p); err != nil {
				return entryErr(entry, err)
			}
			u.tree[p] = &node{kind: impliedDir}
		case n.kind == symlinkEntry:
			return unsafeEntry(entry, fmt.Sprintf("path goes through symlink %s", quote(p)))
		case n.kind == fileEntry:
			return unsafeEntry(entry, fmt.Sprintf("%s is a file, not a directory", quote(p)))
		}
	}
	return nil
}

func (u *unpacker) count(entry string) error {
	u.stats.Files++
	if u.stats.Files > u.lim.MaxFiles {
		return tooLargeEntry(entry, fmt.Sprintf("release has more than %d files, directories and symlinks (MaxFiles)", u.lim.MaxFiles))
	}
	return nil
}

func (u *unpacker) mkdir(name string) error {
	if err := u.root.Mkdir(name, 0o755); err != nil {
		return err
	}
	return u.root.Chmod(name, 0o755) // whatever the umask
}

// file writes a regular file's content, counting the bytes actually read:
// the header's size is only used to fail early.
func (u *unpacker) file(hdr *tar.Header, name string, tr io.Reader) error {
	budget := u.lim.MaxBytes - u.stats.Bytes
	tooLarge := func() error {
		return tooLargeEntry(hdr.Name, fmt.Sprintf("release is larger than %d bytes (MaxBytes)", u.lim.MaxBytes))
	}
	if hdr.Size > budget {
		return tooLarge()
	}
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return entryErr(hdr.Name, err)
	}
	if u.buf == nil {
		u.buf = make([]byte, 32<<10)
	}
	n, err := copyFile(f, io.LimitReader(tr, budget+1), u.buf)
	err = entryErr(hdr.Name, err)
	u.stats.Bytes += n
	if err == nil && u.stats.Bytes > u.lim.MaxBytes {
		err = tooLarge()
	}
	if err == nil {
		err = entryErr(hdr.Name, f.Chmod(0o644)) // whatever the umask
	}
	if err == nil && u.sync {
		err = entryErr(hdr.Name, f.Sync())
	}
	if cerr := f.Close(); err == nil {
		err = entryErr(hdr.Name, cerr)
	}
	if err != nil {
		return err
	}
	return entryErr(hdr.Name, u.chtimes(name, hdr.ModTime))
}

// copyFile copies src to f and tells read errors (bad archive) from write
// errors (full disk).
func copyFile(f *os.File, src io.Reader, buf []byte) (int64, error) {
	var written int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			w, err := f.Write(buf[:n])
			written += int64(w)
			if err != nil {
				return written, err
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, readErr("read content", rerr)
		}
	}
}

// chtimes sets name's modification time if the archive has a usable one.
func (u *unpacker) chtimes(name string, mtime time.Time) error {
	// UnixNano, which Chtimes converts to, covers 1678 to 2262.
	if mtime.Unix() <= 0 || mtime.Year() >= 2262 {
		return nil
	}
	return u.root.Chtimes(name, mtime, mtime)
}

// checkSymlinks fails if any symlink, followed through the others the way
// the kernel would, leads out of the release. It runs after the last entry
// because a target may name links that come later in the archive.
func (u *unpacker) checkSymlinks() error {
	var links []string
	for name, n := range u.tree {
		if n.kind == symlinkEntry {
			links = append(links, name)
		}
	}
	sort.Strings(links) // report the same entry every time
	for _, name := range links {
		if reason := u.resolve(name); reason != "" {
			return unsafeEntry(name, reason)
		}
	}
	return nil
}

// resolve follows the symlink at name and returns why it is unsafe, or "".
// Components that do not exist, or are files, are taken as directories:
// that only makes resolve stricter than the kernel, which would fail there.
func (u *unpacker) resolve(name string) string {
	target := u.tree[name].target
	var cur []string // resolved directory, free of symlinks
	if d := path.Dir(name); d != "." {
		cur = strings.Split(d, "/") // parents of an entry are never symlinks
	}
	pending := strings.Split(target, "/")
	for hops := 1; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return fmt.Sprintf("symlink target %s resolves outside the release", quote(target))
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := c
		if len(cur) > 0 {
			p = strings.Join(cur, "/") + "/" + c
		}
		if n := u.tree[p]; n != nil && n.kind == symlinkEntry {
			if hops++; hops > maxHops {
				return fmt.Sprintf("symlink target %s goes through more than %d symlinks", quote(target), maxHops)
			}
			pending = append(strings.Split(n.target, "/"), pending...)
			continue
		}
		cur = append(cur, c)
	}
	return ""
}

// finishDirs sets directory mtimes, which creating their content changed,
// and with sync set fsyncs every directory so that their entries are durable.
func (u *unpacker) finishDirs() error {
	dirs := []string{"."}
	for name, n := range u.tree {
		if n.kind == dirEntry || n.kind == impliedDir {
			dirs = append(dirs, name)
		}
	}
	sort.Strings(dirs)
	for _, name := range dirs {
		if n := u.tree[name]; n != nil && n.kind == dirEntry {
			if err := u.chtimes(name, n.mtime); err != nil {
				return entryErr(name, err)
			}
		}
		if u.sync {
			if err := syncDir(u.root, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func syncDir(root *os.Root, name string) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

// cleanName checks an entry name and returns it cleaned ("./a//b" is "a/b",
// the release root is "."), or why it is rejected.
func cleanName(name string) (clean, reason string) {
	if reason := checkPath(name); reason != "" {
		return "", reason
	}
	if strings.HasPrefix(name, "/") {
		return "", "path is absolute"
	}
	clean = path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", "path leaves the release"
	}
	if strings.Count(clean, "/") >= maxDepth {
		return "", fmt.Sprintf("path is more than %d directories deep", maxDepth)
	}
	return clean, ""
}

// checkTarget returns why the target of the symlink at name is rejected, or
// "". Chains through other symlinks are checked later, by resolve.
func checkTarget(name, target string) string {
	if reason := checkPath(target); reason != "" {
		return "symlink target: " + reason
	}
	if strings.HasPrefix(target, "/") {
		return fmt.Sprintf("symlink target %s is absolute", quote(target))
	}
	if t := path.Join(path.Dir(name), target); t == ".." || strings.HasPrefix(t, "../") {
		return fmt.Sprintf("symlink target %s leaves the release", quote(target))
	}
	return ""
}

// checkPath returns why p is not acceptable as a name, or "".
func checkPath(p string) string {
	switch {
	case p == "":
		return "name is empty"
	case strings.IndexByte(p, 0) >= 0:
		return "name contains a NUL byte"
	case !utf8.ValidString(p):
		return "name is not valid UTF-8"
	case len(p) > maxName:
		return fmt.Sprintf("name is longer than %d bytes", maxName)
	}
	return ""
}

// ArchiveError is a rejection of the archive for what it holds: an unsafe
// entry, a limit exceeded or input that is not a valid archive, as opposed
// to a failure of the disk, of the reader or of ctx. It wraps ErrUnsafe,
// ErrTooLarge or ErrCorrupt.
type ArchiveError struct {
	Entry  string // the entry at fault, as named in the archive; "" if none
	Reason string // what is wrong, e.g. "path leaves the release"
	kind   error  // ErrUnsafe, ErrTooLarge or ErrCorrupt
	cause  error  // what the gzip or tar reader reported, or nil
}

// Message says what is wrong, for whoever made the archive:
// `entry "../a": path leaves the release`.
func (e *ArchiveError) Message() string {
	if e.Entry == "" {
		return e.Reason
	}
	return "entry " + quote(e.Entry) + ": " + e.Reason
}

// Error is Message, which for a corrupt archive also says that it is.
func (e *ArchiveError) Error() string {
	msg := e.Reason
	if e.kind == ErrCorrupt {
		msg = ErrCorrupt.Error() + ": " + msg
	}
	if e.Entry != "" {
		msg = "entry " + quote(e.Entry) + ": " + msg
	}
	return msg
}

// Unwrap returns ErrUnsafe, ErrTooLarge or ErrCorrupt and, for a corrupt
// archive, what the gzip or tar reader reported.
func (e *ArchiveError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// entryError is a failure of one archive entry that is not the archive's
// fault, such as a full disk.
type entryError struct {
	name string // as in the archive
	err  error
}

func (e *entryError) Error() string { return "entry " + quote(e.name) + ": " + e.err.Error() }

func (e *entryError) Unwrap() error { return e.err }

func unsafeEntry(name, reason string) error {
	return &ArchiveError{Entry: name, Reason: reason, kind: ErrUnsafe}
}

func tooLargeEntry(name, reason string) error {
	return &ArchiveError{Entry: name, Reason: reason, kind: ErrTooLarge}
}

// entryErr names the entry in err; it returns nil for a nil err.
func entryErr(name string, err error) error {
	if err == nil {
		return nil
	}
	ae, ok := err.(*ArchiveError)
	if ok && ae.Entry == "" {
		named := *ae
		named.Entry = name
		return &named
	}
	var ee *entryError
	if errors.As(err, &ee) || errors.As(err, &ae) {
		return err
	}
	return &entryError{name: name, err: err}
}

// readErr classifies an error from reading the archive: limits, the end of
// ctx and failures of the input itself pass through, anything else means
// the archive is malformed.
func readErr(what string, err error) error {
	var in *inputError
	switch {
	case errors.As(err, &in):
		return fmt.Errorf("%s: %w", what, in.err)
	case errors.Is(err, ErrTooLarge), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	}
	return &ArchiveError{Reason: what + ": " + err.Error(), kind: ErrCorrupt, cause: err}
}

// inputError is a failure of the reader passed to Unpack, as opposed to a
// malformed archive.
type inputError struct{ err error }

func (e *inputError) Error() string { return "read archive: " + e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// limitReader passes reads through until more than n bytes have been read
// or ctx ends. Limits are enforced on bytes read, never on sizes claimed.
type limitReader struct {
	ctx context.Context
	r   io.Reader
	n   int64 // bytes still allowed; negative once exceeded
	err error // returned once n is exceeded
	// input marks the reader over Unpack's input, whose errors are not
	// the archive's fault.
	input bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	if l.n < 0 {
		return 0, l.err
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return 0, l.err
	}
	if err != nil && err != io.EOF && l.input {
		err = &inputError{err: err}
	}
	return n, err
}

// quote returns s as a Go string literal, cut to about 100 bytes so that a
// hostile name cannot flood a log line.
func quote(s string) string {
	const max = 100
	if len(s) <= max {
		return strconv.Quote(s)
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strconv.Quote(s[:i]) + "..."
}
