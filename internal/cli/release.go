package cli

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// uploadChunk is the size of the chunks `site deploy` sends.
const uploadChunk = 1 << 20

func (a *app) releaseService() (berthv1.ReleaseServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewReleaseServiceClient(conn), nil
}

func (a *app) siteDeployCmd() *cobra.Command {
	var noActivate bool
	cmd := &cobra.Command{
		Use:   "deploy SITE PATH [--no-activate]",
		Short: "Upload a directory or a .tar.gz as a new release of a static site",
		Long: `Upload a new release of a static site and switch the site to it.

PATH is a directory, whose files are packed as they are (regular files,
directories and symlinks that stay inside it; anything else is an error), or a
gzip-compressed tar archive (.tar.gz) of the site's files. berthd checks the
bundle before it records it. Progress goes to stderr, the new release's id to
stdout. The upload is not bounded by --timeout.`,
		Args: argNames("SITE", "PATH"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			bundle, err := openBundle(args[1])
			if err != nil {
				return err
			}
			defer bundle.Close()
			svc, err := a.releaseService()
			if err != nil {
				return err
			}
			resp, err := a.upload(cmd.Context(), svc, args[0], noActivate, bundle)
			if err != nil {
				return err
			}
			p := a.printer()
			if p.json {
				return writeJSON(a.stdio.Out, resp)
			}
			rel := resp.GetRelease()
			files := "files"
			if rel.GetFiles() == 1 {
				files = "file"
			}
			fmt.Fprintf(a.stdio.Err, "Release %s: %d %s, %s (%s packed).\n",
				rel.GetId(), rel.GetFiles(), files, byteSize(rel.GetUnpackedBytes()), byteSize(rel.GetSizeBytes()))
			if noActivate {
				fmt.Fprintf(a.stdio.Err, "Not activated: switch to it with `berth site rollback %s %s`.\n", args[0], rel.GetId())
			} else {
				fmt.Fprintf(a.stdio.Err, "Site %s now serves it (generation %d): follow with `berth site watch %s`.\n",
					args[0], resp.GetSite().GetGeneration(), args[0])
			}
			_, err = fmt.Fprintln(a.stdio.Out, rel.GetId())
			return err
		}),
	}
	cmd.Flags().BoolVar(&noActivate, "no-activate", false, "record the release without switching the site to it")
	return cmd
}

// upload streams bundle to CreateRelease with progress on stderr.
func (a *app) upload(ctx context.Context, svc berthv1.ReleaseServiceClient, siteID string, noActivate bool, bundle *bundleReader) (*berthv1.CreateReleaseResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := svc.CreateRelease(ctx)
	if err != nil {
		return nil, err
	}
	err = stream.Send(&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Header{
		Header: &berthv1.ReleaseUploadHeader{SiteId: siteID, NoActivate: noActivate}}})
	prog := newProgress(a.stdio.Err, bundle.size)
	for err == nil {
		// A fresh buffer each time: gRPC may hold on to a sent message.
		buf := make([]byte, uploadChunk)
		n, rerr := io.ReadFull(bundle, buf)
		if n > 0 {
			err = stream.Send(&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Chunk{Chunk: buf[:n]}})
			prog.add(int64(n))
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			prog.end()
			return nil, rerr // cancel aborts the upload: nothing is recorded
		}
	}
	prog.end()
	// io.EOF from Send: berthd ended the call early; CloseAndRecv says why.
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return stream.CloseAndRecv()
}

// bundleReader is a bundle to upload: a .tar.gz file as it is, or a
// directory packed on the fly.
type bundleReader struct {
	io.Reader
	size  int64 // -1 if not known in advance
	close func() error
}

func (b *bundleReader) Close() error { return b.close() }

// openBundle opens p as a bundle: a directory to pack, or a gzip file. A
// directory is checked completely before anything is sent.
func openBundle(p string) (*bundleReader, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		root, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, err
		}
		entries, err := packList(root)
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pw.CloseWithError(writeTarGz(pw, root, entries))
		}()
		return &bundleReader{Reader: pr, size: -1, close: func() error {
			pr.Close() // stops the writer if the upload ended early
			<-done
			return nil
		}}, nil
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is neither a directory nor a .tar.gz file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if magic, err := br.Peek(2); err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		f.Close()
		return nil, fmt.Errorf("%s is not gzip-compressed: pass a directory or a .tar.gz file (tar czf site.tar.gz -C public .)", p)
	}
	return &bundleReader{Reader: br, size: fi.Size(), close: f.Close}, nil
}

// packEntry is one file, directory or symlink to pack.
type packEntry struct {
	name   string // relative, slash-separated
	info   fs.FileInfo
	target string // symlinks
}

// packList walks root and lists what to pack, refusing what cannot be
// uploaded rather than leaving it out: symlinks that point outside root and
// special files.
func packList(root string) ([]packEntry, error) {
	var entries []packEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := packEntry{name: name, info: info}
		switch mode := info.Mode(); {
		case mode.IsDir(), mode.IsRegular():
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			t := filepath.ToSlash(target)
			if joined := path.Join(path.Dir(name), t); filepath.IsAbs(target) || strings.HasPrefix(t, "/") || joined == ".." || strings.HasPrefix(joined, "../") {
				return fmt.Errorf("%s is a symlink to %s, outside the directory: replace it with a copy of what it points to", p, target)
			}
			e.target = t
		default:
			return fmt.Errorf("%s is a %s, not a regular file, directory or symlink: remove it or deploy from a copy without it", p, fileType(mode))
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", root, err)
	}
	return entries, nil
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// writeTarGz writes entries of root as a gzip-compressed tar archive. The
// archive depends only on names, contents, modes and modification times
// (to the second), so packing an unchanged directory again gives the same
// bundle, which berthd stores once.
func writeTarGz(w io.Writer, root string, entries []packEntry) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: int64(e.info.Mode().Perm()), ModTime: e.info.ModTime().Truncate(time.Second)}
		switch {
		case e.info.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, e.name+"/"
		case e.target != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.target
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.info.Size()
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("pack %s: %w", e.name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := copyFile(tw, filepath.Join(root, filepath.FromSlash(e.name)), hdr.Size); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	return gz.Close()
}

func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("pack %s: the file shrank while it was packed; deploy again", p)
		}
		return fmt.Errorf("pack %s: %w", p, err)
	}
	return nil
}

// progress reports bytes sent on a terminal, rewriting one line, and
// otherwise as a line every few seconds and one at the end.
type progress struct {
	w     io.Writer
	tty   bool
	total int64 // -1 if unknown
	sent  int64
	last  time.Time
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) add(n int64) {
	p.sent += n
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if time.Since(p.last) >= every {
		p.last = time.Now()
		p.print(false)
	}
}

func (p *progress) end() { p.print(true) }

func (p *progress) print(final bool) {
	msg := "Uploading: " + byteSize(p.sent) + " sent"
	if p.total > 0 {
		msg += fmt.Sprintf(" of %s (%d%%)", byteSize(p.total), p.sent*100/p.total)
	}
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", msg)
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
	default:
		fmt.Fprintln(p.w, msg)
	}
}

// byteSize formats n bytes as "512 B", "1.5 KiB", "12.3 MiB", "1.0 GiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}

func (a *app) siteReleasesCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "releases SITE [--all]",
		Short: "List a static site's releases, newest first",
		Args:  argNames("SITE"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.releaseService()
			if err != nil {
				return err
			}
			rels, current, next, err := a.listReleases(cmd.Context(), svc, args[0], all)
			if err != nil {
				return err
			}
			err = a.printer().show(&berthv1.ListReleasesResponse{Releases: rels, NextPageToken: next, CurrentReleaseId: current},
				func(w io.Writer, now time.Time) error { return writeReleases(w, now, current, rels...) })
			if err == nil && next != "" {
				fmt.Fprintf(a.stdio.Err, "There are more than %d releases: pass --all to list them all.\n", len(rels))
			}
			return err
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every page, not only the first")
	return cmd
}

// listReleases lists a site's releases (all pages with all) and returns
// them with the current release's id and the next page token.
func (a *app) listReleases(ctx context.Context, svc berthv1.ReleaseServiceClient, siteID string, all bool) ([]*berthv1.Release, string, string, error) {
	var current string
	rels, next, err := listAll(all, func(pageToken string) ([]*berthv1.Release, string, error) {
		ctx, cancel := a.callCtx(ctx)
		defer cancel()
		resp, err := svc.ListReleases(ctx, &berthv1.ListReleasesRequest{SiteId: siteID, PageToken: pageToken})
		current = resp.GetCurrentReleaseId()
		return resp.GetReleases(), resp.GetNextPageToken(), err
	})
	return rels, current, next, err
}

func writeReleases(w io.Writer, now time.Time, current string, rels ...*berthv1.Release) error {
	rows := make([][]string, 0, len(rels))
	for _, r := range rels {
		cur := ""
		if r.GetId() == current {
			cur = "*"
		}
		rows = append(rows, []string{r.GetId(), cur, byteSize(r.GetSizeBytes()), fmt.Sprint(r.GetFiles()), age(r.GetCreateTime(), now)})
	}
	return writeTable(w, []string{"ID", "CURRENT", "SIZE", "FILES", "AGE"}, rows)
}

func (a *app) siteRollbackCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rollback SITE [RELEASE]",
		Short: "Switch a static site to an earlier release (or to RELEASE)",
		Long: `Switch a static site to another of its releases.

Without RELEASE the site goes back to the release uploaded before the one it
serves now; run it again to go back further. With RELEASE it switches to that
release, older or newer.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return argNames("SITE")(cmd, args)
			}
			return argNames("SITE", "RELEASE")(cmd, args)
		},
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			siteID := args[0]
			svc, err := a.releaseService()
			if err != nil {
				return err
			}
			var target, from string
			if len(args) == 2 {
				target = args[1]
			} else {
				rels, current, _, err := a.listReleases(cmd.Context(), svc, siteID, true)
				if err != nil {
					return err
				}
				if target, err = previousRelease(siteID, rels, current); err != nil {
					return err
				}
				from = current
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.ActivateRelease(ctx, &berthv1.ActivateReleaseRequest{SiteId: siteID, ReleaseId: target})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				msg := fmt.Sprintf("Site %s now serves release %s", siteID, target)
				if from != "" {
					msg += " (was " + from + ")"
				}
				_, err := fmt.Fprintf(w, "%s: follow with `berth site watch %s`\n", msg, siteID)
				return err
			})
		}),
	}
}

// previousRelease is the release uploaded before current; rels are newest first.
func previousRelease(siteID string, rels []*berthv1.Release, current string) (string, error) {
	if current == "" {
		return "", fmt.Errorf("site %s serves no release yet: deploy one with `berth site deploy %s PATH`", siteID, siteID)
	}
	for i, r := range rels {
		if r.GetId() != current {
			continue
		}
		if i+1 == len(rels) {
			return "", fmt.Errorf("release %s is the oldest of site %s: there is nothing to roll back to", current, siteID)
		}
		return rels[i+1].GetId(), nil
	}
	return "", fmt.Errorf("the current release %s of site %s is not among its releases; name the release to switch to", current, siteID)
}

func (a *app) siteReleaseCmd() *cobra.Command {
	return group("release", "Manage single releases of a static site", a.siteReleaseDeleteCmd())
}

func (a *app) siteReleaseDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete SITE RELEASE",
		Short: "Delete a release the site does not serve",
		Args:  argNames("SITE", "RELEASE"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.releaseService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DeleteRelease(ctx, &berthv1.DeleteReleaseRequest{SiteId: args[0], ReleaseId: args[1]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintf(w, "Deleted release %s of site %s\n", args[1], args[0])
				return err
			})
		}),
	}
}
