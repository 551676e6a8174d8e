package tokens_test

import (
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"
)

// TestAlgorithmValidate: the tokens package owns the names of its signing
// algorithms; the startup check (cmd) reports this error as it is.
func TestAlgorithmValidate(t *testing.T) {
	for _, a := range []tokens.Algorithm{tokens.ES256, tokens.EdDSA, tokens.RS256} {
		if err := a.Validate(); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
	for _, a := range []tokens.Algorithm{"HS256", "es256", "", "none", "RS512"} {
		err := a.Validate()
		if err == nil {
			t.Errorf("%q accepted", a)
			continue
		}
		if !strings.Contains(err.Error(), "ES256, EdDSA or RS256") {
			t.Errorf("%q: %v does not name the algorithms that are accepted", a, err)
		}
	}
}
