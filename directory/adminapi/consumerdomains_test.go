package adminapi

import "testing"

// A consumer mail domain (anyone can have an address there) cannot be
// claimed: 422 on the field "domain"; an ordinary domain next to it can.
func TestConsumerMailDomainsCannotBeClaimed(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		for _, d := range []string{"gmail.com", "Outlook.COM.", "yahoo.com", "hotmail.com", "icloud.com", "proton.me", "mail.proton.me"} {
			r := f.as(cAdmin, "POST", f.pathA("/domains"), `{"domain":"`+d+`"}`)
			wantStatus(t, r, 422)
			if _, _, field := r.errorCode(t); field != "domain" {
				t.Fatalf("%s: field %q: %s", d, field, r.Body.String())
			}
		}
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/domains"), `{"domain":"notgmail.com"}`), 201)
	})
}
