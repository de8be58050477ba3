package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarGz packs entries (name → content; a name ending in "/" is a
// directory) without any checks, as a careless or hostile client might.
func tarGz(t testing.TB, entries ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e[1]))}
		if strings.HasSuffix(e[0], "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e[1])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// post sends body as a raw POST and returns the status and response body.
func (b *berthd) post(path, token, contentType string, body []byte) (int, []byte) {
	b.tb.Helper()
	req, err := http.NewRequest("POST", b.url(path), bytes.NewReader(body))
	if err != nil {
		b.tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := b.http.Do(req)
	if err != nil {
		b.tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.tb.Fatal(err)
	}
	return resp.StatusCode, out
}

// releases lists a site's releases through the CLI.
func (b *berthd) releases(tb testing.TB, siteID string) (ids []string, current string) {
	tb.Helper()
	var list struct {
		Releases []struct {
			ID string `json:"id"`
		} `json:"releases"`
		Current string `json:"current_release_id"`
	}
	if err := json.Unmarshal([]byte(b.ok(tb, "", "site", "releases", siteID, "--all", "-o", "json")), &list); err != nil {
		tb.Fatal(err)
	}
	for _, r := range list.Releases {
		ids = append(ids, r.ID)
	}
	return ids, list.Current
}

func TestReleasesCLI(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Acme", "--slug", "acme", "--email", "ops@acme.test", "-o", "json"), "client")
	siteID := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", "www", "--kind", "static",
		"--domain", "www.acme.test", "--no-wait", "-o", "json"), "site")

	public := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		writeFile(t, filepath.Join(public, name), content)
	}
	write("index.html", "<h1>v1</h1>")
	write("css/site.css", "body{}")
	out, errOut, code := b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "deploy", siteID, public)
	rel1 := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(rel1, "rel_") || strings.Contains(rel1, "\n") {
		t.Fatalf("deploy: exit %d, stdout %q, stderr %q; want the release id", code, out, errOut)
	}
	if !strings.Contains(errOut, "Uploading") || !strings.Contains(errOut, "3 files") {
		t.Errorf("deploy progress and summary on stderr: %q", errOut)
	}
	if out := b.ok(t, "", "site", "releases", siteID); !strings.Contains(out, rel1) || !strings.Contains(out, "CURRENT") || !strings.Contains(out, "*") {
		t.Errorf("site releases:\n%s", out)
	}

	write("index.html", "<h1>v2</h1>")
	rel2 := strings.TrimSpace(b.ok(t, "", "site", "deploy", siteID, public))
	if ids, cur := b.releases(t, siteID); len(ids) != 2 || ids[0] != rel2 || ids[1] != rel1 || cur != rel2 {
		t.Fatalf("after the second deploy: releases %v current %s; want [%s %s] current %s", ids, cur, rel2, rel1, rel2)
	}

	if out := b.ok(t, "", "site", "rollback", siteID); !strings.Contains(out, rel1) || !strings.Contains(out, "was "+rel2) {
		t.Errorf("rollback: %s", out)
	}
	if _, cur := b.releases(t, siteID); cur != rel1 {
		t.Errorf("after rollback current = %s, want %s", cur, rel1)
	}
	if out := b.ok(t, "", "site", "get", siteID, "-o", "json"); !strings.Contains(out, `"release_id": "`+rel1+`"`) {
		t.Errorf("site get after rollback:\n%s", out)
	}
	if _, errOut, code := b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "rollback", siteID); code != 1 || !strings.Contains(errOut, "oldest") {
		t.Errorf("rollback past the oldest release: exit %d, %q", code, errOut)
	}
	b.ok(t, "", "site", "rollback", siteID, rel2)
	b.ok(t, "", "site", "release", "delete", siteID, rel1)
	if ids, cur := b.releases(t, siteID); len(ids) != 1 || cur != rel2 {
		t.Errorf("after delete: releases %v current %s", ids, cur)
	}
	if _, errOut, code := b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "release", "delete", siteID, rel2); code != 1 || !strings.Contains(errOut, "serves") {
		t.Errorf("delete the current release: exit %d, %q", code, errOut)
	}

	// A .tar.gz file, uploaded without activation.
	archive := filepath.Join(t.TempDir(), "site.tar.gz")
	if err := os.WriteFile(archive, tarGz(t, [2]string{"index.html", "<h1>v3</h1>"}), 0o644); err != nil {
		t.Fatal(err)
	}
	rel3 := strings.TrimSpace(b.ok(t, "", "site", "deploy", siteID, archive, "--no-activate"))
	if ids, cur := b.releases(t, siteID); len(ids) != 2 || ids[0] != rel3 || cur != rel2 {
		t.Errorf("after --no-activate: releases %v current %s", ids, cur)
	}

	// A symlink out of the directory is refused before anything is sent.
	if err := os.Symlink("/etc/passwd", filepath.Join(public, "passwd")); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "deploy", siteID, public); code != 1 || !strings.Contains(errOut, "outside the directory") {
		t.Errorf("deploy with a symlink to /etc/passwd: exit %d, %q", code, errOut)
	}
}

func TestReleasesREST(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	clientID := b.rest("POST", "/v1/clients", map[string]any{"display_name": "Acme", "slug": "acme", "contact_email": "ops@acme.test"})["client"].(map[string]any)["id"].(string)
	siteID := b.rest("POST", "/v1/sites", map[string]any{
		"client_id": clientID, "name": "www", "kind": "SITE_KIND_STATIC", "primary_domain": "www.acme.test",
	})["site"].(map[string]any)["id"].(string)
	path := "/v1/sites/" + siteID + "/releases"

	code, body := b.post(path, b.token, "application/gzip", tarGz(t, [2]string{"index.html", "<h1>hi</h1>"}))
	if code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	var created struct {
		Release struct {
			ID     string `json:"id"`
			Digest string `json:"digest"`
			Files  int    `json:"files"`
		} `json:"release"`
		Site struct {
			ReleaseID string `json:"release_id"`
		} `json:"site"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatalf("upload response is not JSON: %v\n%s", err, body)
	}
	rel1 := created.Release.ID
	if !strings.HasPrefix(rel1, "rel_") || len(created.Release.Digest) != 64 || created.Release.Files != 1 || created.Site.ReleaseID != rel1 {
		t.Errorf("upload response: %s", body)
	}

	// Upload without activation, list, activate, delete: all over REST.
	code, body = b.post(path+"?no_activate=true", b.token, "application/octet-stream", tarGz(t, [2]string{"index.html", "<h1>two</h1>"}))
	if code != 200 || !strings.Contains(string(body), `"release_id":"`+rel1+`"`) {
		t.Fatalf("upload with no_activate: %d %s", code, body)
	}
	list := b.rest("GET", path, nil)
	rels := list["releases"].([]any)
	rel2 := rels[0].(map[string]any)["id"].(string)
	if len(rels) != 2 || list["current_release_id"] != rel1 {
		t.Errorf("list: %v", list)
	}
	act := b.rest("POST", path+"/"+rel2+"/activate", map[string]any{})
	if act["site"].(map[string]any)["release_id"] != rel2 {
		t.Errorf("activate: %v", act)
	}
	b.rest("DELETE", path+"/"+rel1, nil)

	// A bundle that climbs out of the release: 400 naming the entry, and
	// nothing recorded.
	code, body = b.post(path, b.token, "application/gzip",
		tarGz(t, [2]string{"index.html", "ok"}, [2]string{"../../etc/cron.d/evil", "* * * * * root sh"}))
	if code != http.StatusBadRequest || !strings.Contains(string(body), `\"../../etc/cron.d/evil\"`) || !strings.Contains(string(body), `"code":3`) {
		t.Errorf("traversal upload: %d %s; want 400 naming the entry", code, body)
	}
	if n := len(b.rest("GET", path, nil)["releases"].([]any)); n != 1 {
		t.Errorf("releases after a refused upload: %d, want 1", n)
	}

	// Authentication and authorization are the API's, as for every call.
	if code, body := b.post(path, "", "application/gzip", tarGz(t, [2]string{"a", "b"})); code != http.StatusUnauthorized {
		t.Errorf("upload without token: %d %s", code, body)
	}
	other := b.rest("POST", "/v1/clients", map[string]any{"display_name": "Other", "slug": "other", "contact_email": "ops@other.test"})["client"].(map[string]any)["id"].(string)
	b.rest("POST", "/v1/users", map[string]any{
		"user":     map[string]any{"email": "owner@other.test", "role": "ROLE_CLIENT", "client_id": other},
		"password": "a long enough password",
	})
	session := b.rest("POST", "/v1/auth/login", map[string]any{"email": "owner@other.test", "password": "a long enough password"})["token"].(string)
	if code, body := b.post(path, session, "application/gzip", tarGz(t, [2]string{"a", "b"})); code != http.StatusNotFound {
		t.Errorf("upload to another client's site: %d %s, want 404", code, body)
	}
	if code, body := b.post(path, b.token, "multipart/form-data; boundary=x", []byte("--x--")); code != http.StatusBadRequest || !strings.Contains(string(body), "raw request body") {
		t.Errorf("multipart upload: %d %s", code, body)
	}

	// The audit log has the upload with the caller's address, not the
	// in-process connection's.
	events := b.rest("GET", "/v1/audit-events?method=CreateRelease&resource_id="+siteID, nil)["events"].([]any)
	var ok bool
	for _, e := range events {
		ev := e.(map[string]any)
		if ev["code"] == "OK" && ev["peer"] == "127.0.0.1" {
			ok = true
		}
	}
	if !ok {
		t.Errorf("no successful CreateRelease audit event from 127.0.0.1: %v", events)
	}
}
