package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func TestSiteUpdateRequest(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *berthv1.UpdateSiteRequest
		wantErr string
	}{
		{
			name: "domain only",
			args: []string{"--domain", "www.acme.test"},
			want: &berthv1.UpdateSiteRequest{
				Site:       &berthv1.Site{Id: "site_x", PrimaryDomain: "www.acme.test"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"primary_domain"}},
			},
		},
		{
			name: "aliases repeated and comma separated",
			args: []string{"--alias", "a.acme.test", "--alias", "b.acme.test,c.acme.test"},
			want: &berthv1.UpdateSiteRequest{
				Site:       &berthv1.Site{Id: "site_x", AliasDomains: []string{"a.acme.test", "b.acme.test", "c.acme.test"}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"alias_domains"}},
			},
		},
		{
			name: "clear aliases",
			args: []string{"--clear-aliases"},
			want: &berthv1.UpdateSiteRequest{
				Site:       &berthv1.Site{Id: "site_x"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"alias_domains"}},
			},
		},
		{
			name: "memory only leaves cpu alone",
			args: []string{"--memory", "512"},
			want: &berthv1.UpdateSiteRequest{
				Site:       &berthv1.Site{Id: "site_x", Resources: &berthv1.Resources{MemoryMib: 512}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"resources.memory_mib"}},
			},
		},
		{
			name: "explicit zero is still sent",
			args: []string{"--cpu", "0"},
			want: &berthv1.UpdateSiteRequest{
				Site:       &berthv1.Site{Id: "site_x", Resources: &berthv1.Resources{}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"resources.cpu_millicores"}},
			},
		},
		{
			name: "everything",
			args: []string{"--domain", "d.test", "--alias", "a.test", "--memory", "128", "--cpu", "250", "--title", "T", "--admin-email", "wp@d.test"},
			want: &berthv1.UpdateSiteRequest{
				Site: &berthv1.Site{
					Id: "site_x", PrimaryDomain: "d.test", AliasDomains: []string{"a.test"},
					Resources: &berthv1.Resources{MemoryMib: 128, CpuMillicores: 250},
					Wordpress: &berthv1.WordPressSpec{Title: "T", AdminEmail: "wp@d.test"},
				},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{
					"primary_domain", "alias_domains", "resources.memory_mib", "resources.cpu_millicores",
					"wordpress.title", "wordpress.admin_email",
				}},
			},
		},
		{name: "nothing", args: nil, wantErr: "nothing to update"},
		{name: "alias and clear", args: []string{"--alias", "a.test", "--clear-aliases"}, wantErr: "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
			f := newSiteUpdateFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := f.request("site_x")
			checkRequest(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestClientUpdateRequest(t *testing.T) {
	logo := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logo, []byte("\x89PNG\r\n\x1a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    *berthv1.UpdateClientRequest
		wantErr string
	}{
		{
			name: "name",
			args: []string{"--name", "Acme Ltd."},
			want: &berthv1.UpdateClientRequest{
				Client:     &berthv1.Client{Id: "cl_x", DisplayName: "Acme Ltd."},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
			},
		},
		{
			name: "slug and empty email",
			args: []string{"--slug", "acme", "--email", ""},
			want: &berthv1.UpdateClientRequest{
				Client:     &berthv1.Client{Id: "cl_x", Slug: "acme"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"slug", "contact_email"}},
			},
		},
		{
			name: "status page",
			args: []string{"--status-page", "on", "--status-page-sites", "site_a,site_b", "--status-page-color", "#1f6feb", "--status-page-logo", logo},
			want: &berthv1.UpdateClientRequest{
				Client: &berthv1.Client{Id: "cl_x", StatusPage: &berthv1.StatusPage{Enabled: true, SiteIds: []string{"site_a", "site_b"},
					AccentColor: "#1f6feb", Logo: []byte("\x89PNG\r\n\x1a\n")}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status_page.enabled", "status_page.site_ids", "status_page.accent_color", "status_page.logo"}},
			},
		},
		{
			name: "status page off, no sites, no logo",
			args: []string{"--status-page=off", "--status-page-sites=", "--status-page-logo="},
			want: &berthv1.UpdateClientRequest{
				Client:     &berthv1.Client{Id: "cl_x", StatusPage: &berthv1.StatusPage{}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status_page.enabled", "status_page.site_ids", "status_page.logo"}},
			},
		},
		{name: "status page maybe", args: []string{"--status-page", "maybe"}, wantErr: "pass on or off"},
		{name: "nothing", wantErr: "nothing to update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
			f := newClientUpdateFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := f.request("cl_x")
			checkRequest(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkRequest[M any](t *testing.T, got M, err error, want M, wantErr string) {
	t.Helper()
	if wantErr != "" {
		var ue *usageError
		if err == nil || !strings.Contains(err.Error(), wantErr) || !errors.As(err, &ue) {
			t.Fatalf("error = %v, want a usage error containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}
