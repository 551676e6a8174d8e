package oauth

import (
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory/directorytest"
)

func TestOneLaneWhenIDTokensUseTheAccessTokenAlgorithm(t *testing.T) {
	e := newOIDCEnv(t, directorytest.SQLite(t), memorySessions(t), withIDTokenAlgorithm(tokens.ES256))
	signer, idSigner := e.keys.SigningKeyIDs()
	if idSigner != signer || len(e.keys.Keys()) != 2 {
		t.Fatalf("%d keys, shared signer %v", len(e.keys.Keys()), idSigner == signer)
	}
	r := e.codeFlow(e.browser(), nil)
	if h := headerOf(t, r.str("id_token")); h["alg"] != "ES256" || h["typ"] != "JWT" || h["kid"] != signer {
		t.Fatalf("%v", h)
	}
}
