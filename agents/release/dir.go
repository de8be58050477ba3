package release

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fixaroo/berth/internal/shared/bundle"
)

// Errors returned by Dir's methods; compare with errors.Is.
var (
	// ErrInvalidID is wrapped when a release id does not match idPattern.
	ErrInvalidID = errors.New("release: invalid release id")
	// ErrNotInstalled is wrapped by Activate when the release is not installed.
	ErrNotInstalled = errors.New("release: release not installed")
	// ErrCurrent is wrapped by Remove when asked to remove the current release.
	ErrCurrent = errors.New("release: release is current")
)

// idPattern is what a release id looks like: "rel_01jd…" or a sha256 hex
// digest from the control plane. An id is always a single path segment.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,127}$`)

const (
	releasesDir = "releases"
	currentLink = "current"
	tmpPrefix   = ".tmp-"        // releases/.tmp-<id>-<rand>: an Install in progress
	rmPrefix    = ".rm-"         // releases/.rm-<id>-<rand>: a Remove in progress
	linkPrefix  = "current.tmp-" // <root>/current.tmp-<rand>: an Activate in progress
	// staleAfter is when Prune takes a temporary name for the leftover of
	// a crash rather than an operation in progress.
	staleAfter = 24 * time.Hour
)

// Dir is one site's release directory on a node:
//
//	<Root>/releases/<id>/...
//	<Root>/current -> releases/<id>   (a relative symlink)
//
// A web server serves <Root>/current. Install and Activate are atomic for
// such readers: they see a release completely or not at all, and never a
// missing current once one exists. Methods may run concurrently, with one
// exception the caller must prevent: Remove or Prune racing Activate of a
// release they are removing. The node agent runs one site's operations one
// at a time, which rules that out.
type Dir struct {
	Root string // created by Install if missing
}

// Install unpacks the gzip-compressed tar archive r (see bundle.Unpack) as release
// id. It unpacks into a temporary directory, fsyncs every file and
// directory, then renames it to releases/<id>, so releases/<id> never exists
// half-written. If releases/<id> already exists, Install returns nil
// without reading r. Install does not activate the release. Errors wrap
// ErrInvalidID, or bundle.ErrUnsafe, ErrTooLarge or ErrCorrupt when the request or the
// archive is at fault.
func (d Dir) Install(ctx context.Context, id string, r io.Reader, lim bundle.Limits) error {
	if err := checkID(id); err != nil {
		return err
	}
	releases := filepath.Join(d.Root, releasesDir)
	final := filepath.Join(releases, id)
	if ok, err := isDir(final); err != nil || ok {
		return err
	}
	if err := os.MkdirAll(releases, 0o755); err != nil {
		return fmt.Errorf("install release %s: %w", id, err)
	}
	tmp := filepath.Join(releases, tmpPrefix+id+"-"+rand.Text())
	if _, err := bundle.UnpackSynced(ctx, r, tmp, lim); err != nil {
		return fmt.Errorf("install release %s: %w", id, err)
	}
	// The release directory's mtime is its install time, which Prune
	// sorts by: nothing writes to a release once it is installed.
	now := time.Now()
	err := os.Chtimes(tmp, now, now)
	if err == nil {
		err = syncDirPath(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		rmErr := os.RemoveAll(tmp)
		if ok, _ := isDir(final); ok && rmErr == nil {
			return nil // a concurrent Install of the same id won
		}
		return errors.Join(fmt.Errorf("install release %s: %w", id, err), rmErr)
	}
	if err := syncDirPath(releases); err != nil {
		return fmt.Errorf("install release %s: %w", id, err)
	}
	return nil
}

// Activate points current at releases/<id>. It creates the new symlink
// under a temporary name and renames it over current, so readers resolve
// current to the old release or the new one and never fail; then it fsyncs
// Root. Activating the current release again is a no-op switch. Errors wrap
// ErrInvalidID or ErrNotInstalled.
func (d Dir) Activate(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	ok, err := isDir(filepath.Join(d.Root, releasesDir, id))
	if err != nil {
		return fmt.Errorf("activate release %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("activate release %s: %w", id, ErrNotInstalled)
	}
	tmp := filepath.Join(d.Root, linkPrefix+rand.Text())
	if err := os.Symlink(releasesDir+"/"+id, tmp); err != nil {
		return fmt.Errorf("activate release %s: %w", id, err)
	}
	if err := os.Rename(tmp, filepath.Join(d.Root, currentLink)); err != nil {
		return errors.Join(fmt.Errorf("activate release %s: %w", id, err), os.Remove(tmp))
	}
	if err := syncDirPath(d.Root); err != nil {
		return fmt.Errorf("activate release %s: %w", id, err)
	}
	return nil
}

// Current returns the id of the release current points to, or "" if no
// release has been activated.
func (d Dir) Current() (string, error) {
	target, err := os.Readlink(filepath.Join(d.Root, currentLink))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read current release: %w", err)
	}
	id, ok := strings.CutPrefix(target, releasesDir+"/")
	if !ok || !idPattern.MatchString(id) {
		return "", fmt.Errorf("read current release: current points to %s, not to a release", strconv.Quote(target))
	}
	return id, nil
}

// List returns the ids of the installed releases, sorted. Installs and
// Removes in progress are not listed.
func (d Dir) List() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.Root, releasesDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && idPattern.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Remove deletes release id. It refuses, with ErrCurrent, to remove the
// current release, and returns nil if id is not installed. The release is
// first renamed out of the way, so it is never listed half-deleted.
func (d Dir) Remove(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	cur, err := d.Current()
	if err != nil {
		return fmt.Errorf("remove release %s: %w", id, err)
	}
	if cur == id {
		return fmt.Errorf("remove release %s: %w; activate another release first", id, ErrCurrent)
	}
	releases := filepath.Join(d.Root, releasesDir)
	trash := filepath.Join(releases, rmPrefix+id+"-"+rand.Text())
	if err := os.Rename(filepath.Join(releases, id), trash); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("remove release %s: %w", id, err)
	}
	// Make the rename durable before deleting, so that a crash cannot
	// bring back releases/<id> with files missing.
	if err := syncDirPath(releases); err != nil {
		return fmt.Errorf("remove release %s: %w", id, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove release %s: %w", id, err)
	}
	return nil
}

// Prune removes all releases except the keep most recently installed and
// the current one. It also deletes what interrupted operations left behind:
// partly removed releases, and temporary directories and symlinks older
// than a day.
func (d Dir) Prune(keep int) error {
	if keep < 0 {
		return fmt.Errorf("prune releases: keep is %d, must be at least 0", keep)
	}
	ids, err := d.List()
	if err != nil {
		return fmt.Errorf("prune releases: %w", err)
	}
	cur, err := d.Current()
	if err != nil {
		return fmt.Errorf("prune releases: %w", err)
	}
	type installed struct {
		id string
		at time.Time
	}
	rels := make([]installed, 0, len(ids))
	for _, id := range ids {
		fi, err := os.Lstat(filepath.Join(d.Root, releasesDir, id))
		if err != nil {
			return fmt.Errorf("prune releases: %w", err)
		}
		rels = append(rels, installed{id, fi.ModTime()})
	}
	slices.SortFunc(rels, func(a, b installed) int { // newest first
		return cmp.Or(b.at.Compare(a.at), strings.Compare(b.id, a.id))
	})
	var errs []error
	for i, r := range rels {
		if i >= keep && r.id != cur {
			errs = append(errs, d.Remove(r.id))
		}
	}
	errs = append(errs, d.removeLeftovers(time.Now()))
	return errors.Join(errs...)
}

// removeLeftovers deletes what crashed operations left: .rm- directories
// at once, .tmp- directories and current.tmp- symlinks once stale.
func (d Dir) removeLeftovers(now time.Time) error {
	var errs []error
	sweep := func(dir string, remove func(name string, fi fs.FileInfo) bool) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return
		}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if remove(e.Name(), fi) {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	stale := func(fi fs.FileInfo) bool { return now.Sub(fi.ModTime()) > staleAfter }
	sweep(filepath.Join(d.Root, releasesDir), func(name string, fi fs.FileInfo) bool {
		return fi.IsDir() && (strings.HasPrefix(name, rmPrefix) || strings.HasPrefix(name, tmpPrefix) && stale(fi))
	})
	sweep(d.Root, func(name string, fi fs.FileInfo) bool {
		return fi.Mode()&fs.ModeSymlink != 0 && strings.HasPrefix(name, linkPrefix) && stale(fi)
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove leftovers: %w", err)
	}
	return nil
}

// checkID returns an error wrapping ErrInvalidID unless id is a valid
// release id. Ids become path segments, so this is the only check between
// the control plane and the file system.
func checkID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("release id %s: use 1 to 128 lowercase letters, digits, '_', '.' and '-', starting with a letter or digit: %w",
			strconv.Quote(id), ErrInvalidID)
	}
	return nil
}

// isDir reports whether p is a directory, not following a symlink at p.
func isDir(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

// syncDirPath fsyncs the directory p, making renames and creations in it
// durable.
func syncDirPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}
