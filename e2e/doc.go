// Package e2e holds ssobroker's end-to-end tests: the real `ssobroker`
// binary, built once, runs as two `serve` processes sharing PostgreSQL and
// Redis behind one issuer, configured only through the product's surfaces
// (the `ssobroker admin` CLI and the admin API), between independent peers —
// npm oidc-provider as the corporate IdP, npm openid-client as the relying
// party and npm jose as the access-token verifier (docs/testing.md).
//
// The Go test plays the browser (a cookie jar, redirects followed one by one)
// and drives the relying party (rp-driver.mjs) over JSON lines; where what a
// real browser does matters (SameSite cookies on the IdP's cross-site POST,
// CSP on our pages), headless Chromium plays it (browser-saml.mjs, npm
// playwright-core driving Debian's chromium). Missing node
// modules, PostgreSQL or redis-server fail the tests — run ./.ci/test, which
// installs and starts them.
//
// Subpackage peers starts the node peers for this and other packages' tests.
package e2e
