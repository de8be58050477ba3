package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pollInterval is how often WaitText reads the page again.
const pollInterval = 50 * time.Millisecond

// withTimeout bounds one helper's work.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, DefaultTimeout)
}

// fail ends the test with what the tab shows: its URL and the start of
// its visible text.
func fail(t testing.TB, ctx context.Context, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), describe(ctx))
}

// describe reads the tab's URL and visible text with a short timeout of
// its own, since the helper's context has often just expired.
func describe(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(the page could not be read: %v)", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		text = fmt.Sprintf("(no text: %v)", err)
	}
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 600 {
		text = string(r[:600]) + "…"
	}
	return fmt.Sprintf("page: %s\ntext: %s", loc, text)
}

// Navigate loads url in the tab, waits for its load event and fails the
// test unless the page's HTTP status is 2xx (after redirects).
func Navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if status := NavigateStatus(t, ctx, url); status < 200 || status > 299 {
		fail(t, ctx, "navigate to %s: HTTP status %d, want 2xx", url, status)
	}
}

// NavigateStatus loads url in the tab, waits for its load event and
// returns the HTTP status of the page (after redirects).
func NavigateStatus(t testing.TB, ctx context.Context, url string) int64 {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := chromedp.RunResponse(c, chromedp.Navigate(url))
	if err != nil {
		fail(t, ctx, "navigate to %s: %v", url, err)
	}
	if resp == nil {
		fail(t, ctx, "navigate to %s: no response for the page", url)
	}
	return resp.Status
}

// Fill waits for the input or textarea matching the CSS selector sel,
// clears it and types value into it, firing the key and input events a
// person's typing fires.
func Fill(t testing.TB, ctx context.Context, sel, value string) {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	if err := chromedp.Do(c,
		chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	); err != nil {
		fail(t, ctx, "fill %s: %v", sel, err)
	}
}

// Click waits until the element matching the CSS selector sel is visible
// and clicks its centre with the mouse. A click that navigates does not
// wait for the new page: follow it with WaitText or Location.
func Click(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	if err := chromedp.Do(c, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		fail(t, ctx, "click %s: %v", sel, err)
	}
}

// Submit submits the form of the element matching the CSS selector sel, as
// the form's submit() method does: no submit event and no submitter. To
// test what a person does, Click the form's button instead.
func Submit(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	if err := chromedp.Do(c, chromedp.Submit(chromedp.CSS(sel))); err != nil {
		fail(t, ctx, "submit %s: %v", sel, err)
	}
}

// WaitText waits until the visible text of the element matching the CSS
// selector sel contains substr, reading it again every 50 ms, also across
// a navigation (after a Click or Submit that loads a new page).
func WaitText(t testing.TB, ctx context.Context, sel, substr string) {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	var last string
	var lastErr error
	for {
		// Each read gets a short deadline, so a query that started on the
		// page being left cannot hold the loop until the end.
		rc, rcancel := context.WithTimeout(c, time.Second)
		last, lastErr = chromedp.Run(rc, chromedp.Text(chromedp.CSS(sel)))
		rcancel()
		if lastErr == nil && strings.Contains(last, substr) {
			return
		}
		select {
		case <-c.Done():
			if lastErr != nil {
				fail(t, ctx, "wait for %q in %s: %v", substr, sel, lastErr)
			}
			fail(t, ctx, "wait for %q in %s: its text is %q", substr, sel, last)
		case <-time.After(pollInterval):
		}
	}
}

// Text returns the visible text of the element matching the CSS selector
// sel, once it is in the page.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		fail(t, ctx, "text of %s: %v", sel, err)
	}
	return s
}

// Location returns the tab's current URL.
func Location(t testing.TB, ctx context.Context) string {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Location())
	if err != nil {
		fail(t, ctx, "read the location: %v", err)
	}
	return s
}

// UploadFile sets the file of the input[type=file] matching the CSS
// selector sel to the file at path.
func UploadFile(t testing.TB, ctx context.Context, sel, path string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatalf("upload %s: %v", path, err)
	}
	c, cancel := withTimeout(ctx)
	defer cancel()
	if err := chromedp.Do(c, chromedp.SetUploadFiles(chromedp.CSS(sel), []string{abs})); err != nil {
		fail(t, ctx, "upload %s into %s: %v", path, sel, err)
	}
}

// Cookies returns the cookies the browser would send to the tab's current
// URL, with their flags (HTTPOnly, Secure, SameSite, Expires), so a test
// can assert how the server set them.
func Cookies(t testing.TB, ctx context.Context) []*network.Cookie {
	t.Helper()
	c, cancel := withTimeout(ctx)
	defer cancel()
	res, err := chromedp.Call(c, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		fail(t, ctx, "read the cookies: %v", err)
	}
	return res.Cookies
}

// SetViewport sets the tab's viewport to w×h CSS pixels; mobile also
// emulates a phone (mobile meta viewport, touch). 390×844 is a common
// phone.
func SetViewport(ctx context.Context, w, h int, mobile bool) error {
	c, cancel := withTimeout(ctx)
	defer cancel()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	if err := chromedp.Do(c, chromedp.EmulateViewport(int64(w), int64(h), opts...)); err != nil {
		return fmt.Errorf("set viewport %dx%d: %w", w, h, err)
	}
	return nil
}

// Screenshot writes a PNG of the whole page, not only the viewport, as
// name.png (name lowercased, anything but a-z, 0-9 and - replaced by -)
// into $BERTH_SCREENSHOTS, or else the test's artifact directory (kept
// with go test -artifacts), which it logs once per test.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("BERTH_SCREENSHOTS")
	if dir == "" {
		dir = t.ArtifactDir()
		if b := browserOf(ctx); b != nil && b.firstLog(t.Name()) {
			t.Logf("screenshots in %s", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	c, cancel := withTimeout(ctx)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		fail(t, ctx, "screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, sanitize(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
}

// firstLog reports whether this is the first call for the test.
func (b *Browser) firstLog(test string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.logged[test] {
		return false
	}
	b.logged[test] = true
	return true
}

// sanitize makes name a file name of a-z, 0-9 and single dashes.
func sanitize(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		s = "screenshot"
	}
	return s
}
