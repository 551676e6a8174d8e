package adminapi

import (
	"strings"
	"testing"
)

// An org name that imitates another (issue 11: "Globеx" with a Cyrillic е)
// is refused with 422 on the name field and a sentence a person understands;
// a name in one script is kept, in NFC.
func TestConfusableOrgNamesAreRefused(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		for _, name := range []string{"Glob\u0435x", "Acme\u200dCorp", "Acme\u202eCorp", "Тесо"} {
			r := f.as(cAdmin, "PATCH", f.pathA(""), `{"name":"`+name+`"}`)
			wantStatus(t, r, 422)
			code, msg, field := r.errorCode(t)
			if code != "invalid" || field != "name" || !strings.HasPrefix(msg, "organization name ") {
				t.Fatalf("%q: %s", name, r.Body.String())
			}
		}
		for _, name := range []string{"Глобекс", "株式会社Acme"} {
			wantStatus(t, f.as(cAdmin, "PATCH", f.pathA(""), `{"name":"`+name+`"}`), 200)
		}
		r := f.as(cAdmin, "PATCH", f.pathA(""), `{"name":"Cafe\u0301 Acme"}`)
		wantStatus(t, r, 200)
		if got := r.json(t)["name"]; got != "Caf\u00e9 Acme" {
			t.Fatalf("name stored as %q, want NFC", got)
		}
	})
}
