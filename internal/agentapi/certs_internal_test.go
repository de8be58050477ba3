package agentapi

import "testing"

func TestClassifyCertKey(t *testing.T) {
	for _, tt := range []struct {
		key    string
		scope  certKeyScope
		domain string
	}{
		{"acme/ca/users/ops@example.com/ops.key", certKeyAccount, ""},
		{"certificates", certKeyDirectory, ""},
		{"certificates/ca", certKeyDirectory, ""},
		{"certificates/ca/www.example.com/www.example.com.key", certKeyDomain, "www.example.com"},
		{"certificates/ca/www.example.com", certKeyDomain, "www.example.com"},
		{"", certKeyInvalid, ""},
		{"/acme/x", certKeyInvalid, ""},
		{"acme/x/", certKeyInvalid, ""},
		{"acme//x", certKeyInvalid, ""},
		{"certificates/ca/../other.com/x", certKeyInvalid, ""},
		{"acme/a b", certKeyInvalid, ""},
		{"ocsp/x", certKeyInvalid, ""},
		{"rw_test_5302755511315800476", certKeyProbe, ""},
		{"rw_test_x", certKeyInvalid, ""},
		{"locks/x", certKeyInvalid, ""},
	} {
		scope, domain := classifyCertKey(tt.key)
		if scope != tt.scope || domain != tt.domain {
			t.Errorf("classifyCertKey(%q) = %v, %q; want %v, %q", tt.key, scope, domain, tt.scope, tt.domain)
		}
	}
}
