package api

import (
	"testing"

	"github.com/fixaroo/berth/internal/store"
)

func TestValidateUptimeCheck(t *testing.T) {
	for _, tt := range []struct {
		name    string
		site    store.Site
		wantErr bool
	}{
		{"defaults", store.Site{}, false},
		{"all set", store.Site{CheckIntervalSeconds: 30, CheckExpectedStatus: 301, CheckKeyword: "Welcome"}, false},
		{"interval too short", store.Site{CheckIntervalSeconds: 5}, true},
		{"interval too long", store.Site{CheckIntervalSeconds: 7200}, true},
		{"negative interval", store.Site{CheckIntervalSeconds: -1}, true},
		{"not a status", store.Site{CheckExpectedStatus: 42}, true},
		{"keyword with a line break", store.Site{CheckKeyword: "a\nb"}, true},
		{"keyword too long", store.Site{CheckKeyword: string(make([]byte, 201))}, true},
	} {
		if err := validateUptimeCheck(&tt.site); (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %t", tt.name, err, tt.wantErr)
		}
	}
}
