// Drives ssobroker's OpenID provider with npm openid-client v6, an
// independent, OpenID-certified relying party, and jose for access tokens:
//
//   node rp-flow.mjs '{"issuer":…,"public_client":…,"confidential_client":…,
//                      "client_secret":…,"redirect_uri":…,"post_logout_redirect_uri":…,
//                      "user":…,"email":…,"org":…,"workspace":…}'
//
// Started by tokens.TestOpenIDClientDrivesTheWholeFlow against a broker whose
// sign-in (/login) is a stand-in for package idp that signs in a fixed user.
// The script plays the browser (a cookie jar, redirects followed until they
// leave the broker) and the relying party: discovery, a PKCE authorization
// URL, the callback (state, iss, nonce and ID-token signature checked by
// openid-client), the code exchange, userinfo, refresh, RP-initiated logout;
// then the negative cases: wrong state, nonce mismatch, another issuer in the
// callback, replayed code, reused refresh token, unregistered redirect URI.
// It prints one line per check and "ALL CHECKS PASSED", or exits 1.
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import assert from 'node:assert/strict';

const cfg = JSON.parse(process.argv[2] ?? '{}');
for (const k of ['issuer', 'public_client', 'confidential_client', 'client_secret', 'redirect_uri', 'user', 'org']) {
  if (!cfg[k]) {
    console.error(`missing ${k}`);
    process.exit(2);
  }
}
const issuer = new URL(cfg.issuer);
const insecure = { execute: [client.allowInsecureRequests] }; // loopback http in tests

/** A browser: a cookie jar (path-blind, which only sends more) and redirects
 * followed while they stay on the broker. */
class Browser {
  jar = new Map();
  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=(-|0)/i.test(a)) || value === '';
      if (expired) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }
  /** Returns {url} of the first redirect leaving the broker, or {status, body}. */
  async navigate(url) {
    let current = new URL(url);
    for (let i = 0; i < 10; i++) {
      const res = await fetch(current, { redirect: 'manual', headers: { cookie: this.cookieHeader() } });
      this.store(res);
      const loc = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !loc) {
        return { status: res.status, body: await res.text() };
      }
      const next = new URL(loc, current);
      if (next.origin !== issuer.origin) return { url: next };
      current = next;
    }
    throw new Error('too many redirects');
  }
}

let checks = 0;
async function check(name, fn) {
  try {
    await fn();
    checks++;
    console.log(`ok   ${name}`);
  } catch (err) {
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
    process.exit(1);
  }
}

async function rejects(fn, pattern) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'expected an error');
  // openid-client puts the OAuth error, or the parsed WWW-Authenticate
  // challenges, in err.error / err.cause.
  let text = '';
  for (let e = err, i = 0; e && i < 5; e = e.cause, i++) {
    text += ` ${e.code ?? ''} ${e.error ?? ''} ${e.message ?? ''} ${typeof e === 'object' ? JSON.stringify(e) : e}`;
  }
  assert.match(text, pattern);
  return err;
}

const scope = 'openid profile email offline_access';
const publicRP = await client.discovery(issuer, cfg.public_client, undefined, client.None(), insecure);
const confidentialRP = await client.discovery(issuer, cfg.confidential_client, undefined,
  client.ClientSecretBasic(cfg.client_secret), insecure);
for (const rp of [publicRP, confidentialRP]) client.enableNonRepudiationChecks(rp); // verify ID-token signatures with the JWKS
const jwks = createRemoteJWKSet(new URL(publicRP.serverMetadata().jwks_uri));

async function authorize(rp, browser, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(rp, {
    redirect_uri: cfg.redirect_uri, scope, state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  });
  const out = await browser.navigate(url);
  assert.ok(out.url, `no callback: ${out.status} ${out.body?.slice(0, 200)}`);
  return { callback: out.url, verifier, state, nonce };
}

await check('discovery', async () => {
  const m = publicRP.serverMetadata();
  assert.equal(m.issuer, cfg.issuer);
  assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  assert.ok(m.id_token_signing_alg_values_supported.includes('RS256'));
  assert.equal(m.authorization_response_iss_parameter_supported, true);
});

const browser = new Browser();
let tokens;
let flow;
await check('public client: authorization code with PKCE, ID token verified', async () => {
  flow = await authorize(publicRP, browser);
  tokens = await client.authorizationCodeGrant(publicRP, flow.callback, {
    pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.sub, cfg.user);
  assert.equal(claims.aud, cfg.public_client);
  assert.equal(claims.nonce, flow.nonce);
  assert.equal(claims.email, cfg.email);
  assert.equal(claims.email_verified, true);
  assert.equal(claims.org.id, cfg.org);
  assert.ok(claims.sid && claims.at_hash && claims.auth_time);
  assert.ok(tokens.refresh_token, 'no refresh token with offline_access');
});

await check('access token verifies with jose (RFC 9068) and carries org and workspace roles', async () => {
  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
    issuer: cfg.issuer, audience: cfg.public_client, typ: 'at+jwt', algorithms: ['ES256', 'RS256', 'EdDSA'],
  });
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.equal(payload.sub, cfg.user);
  assert.equal(payload.client_id, cfg.public_client);
  assert.equal(payload.org.id, cfg.org);
  assert.ok(payload.org.role);
  if (cfg.workspace) assert.ok(payload.workspaces.some((w) => w.name === cfg.workspace && w.role));
});

await check('userinfo', async () => {
  const info = await client.fetchUserInfo(publicRP, tokens.access_token, cfg.user);
  assert.equal(info.sub, cfg.user);
  assert.equal(info.email, cfg.email);
  assert.equal(info.org.id, cfg.org);
});

let rotated;
await check('refresh rotates the refresh token and returns a verified ID token', async () => {
  rotated = await client.refreshTokenGrant(publicRP, tokens.refresh_token);
  assert.ok(rotated.access_token && rotated.refresh_token);
  assert.notEqual(rotated.refresh_token, tokens.refresh_token);
  assert.equal(rotated.claims().sub, cfg.user);
  assert.equal(rotated.claims().auth_time, tokens.claims().auth_time);
});

await check('refresh token reused: invalid_grant, and the family is revoked', async () => {
  await rejects(() => client.refreshTokenGrant(publicRP, tokens.refresh_token), /invalid_grant/);
  await rejects(() => client.refreshTokenGrant(publicRP, rotated.refresh_token), /invalid_grant/);
});

await check('replayed code: invalid_grant', async () => {
  await rejects(() => client.authorizationCodeGrant(publicRP, flow.callback, {
    pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce,
  }), /invalid_grant/);
});

await check('replayed code revoked the tokens of its first redemption', async () => {
  await rejects(() => client.fetchUserInfo(publicRP, tokens.access_token, cfg.user), /invalid_token|401/);
});

await check('confidential client (client_secret_basic), same browser session: no second sign-in', async () => {
  const f = await authorize(confidentialRP, browser, { prompt: 'none' });
  const t = await client.authorizationCodeGrant(confidentialRP, f.callback, {
    pkceCodeVerifier: f.verifier, expectedState: f.state, expectedNonce: f.nonce, idTokenExpected: true,
  });
  assert.equal(t.claims().aud, cfg.confidential_client);
  assert.equal(t.claims().sid, tokens.claims().sid);
});

await check('wrong state is refused by the relying party', async () => {
  const f = await authorize(publicRP, new Browser());
  await rejects(() => client.authorizationCodeGrant(publicRP, f.callback, {
    pkceCodeVerifier: f.verifier, expectedState: 'another-state', expectedNonce: f.nonce,
  }), /state/i);
});

await check('nonce mismatch is refused by the relying party', async () => {
  const f = await authorize(publicRP, new Browser());
  await rejects(() => client.authorizationCodeGrant(publicRP, f.callback, {
    pkceCodeVerifier: f.verifier, expectedState: f.state, expectedNonce: 'another-nonce',
  }), /nonce/i);
});

await check('a callback claiming another issuer (RFC 9207) is refused', async () => {
  const f = await authorize(publicRP, new Browser());
  const forged = new URL(f.callback);
  forged.searchParams.set('iss', 'https://evil.example');
  await rejects(() => client.authorizationCodeGrant(publicRP, forged, {
    pkceCodeVerifier: f.verifier, expectedState: f.state, expectedNonce: f.nonce,
  }), /iss/i);
});

await check('prompt=none without a session: login_required to the client', async () => {
  const url = client.buildAuthorizationUrl(publicRP, {
    redirect_uri: cfg.redirect_uri, scope, state: 's', prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const out = await new Browser().navigate(url);
  assert.equal(out.url.searchParams.get('error'), 'login_required');
  await rejects(() => client.authorizationCodeGrant(publicRP, out.url, { expectedState: 's' }), /login_required/);
});

await check('redirect URI not registered: an error page, no redirect', async () => {
  const url = client.buildAuthorizationUrl(publicRP, {
    redirect_uri: 'https://evil.example/callback', scope, state: 's',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const out = await new Browser().navigate(url);
  assert.equal(out.url, undefined);
  assert.equal(out.status, 400);
});

if (cfg.post_logout_redirect_uri) {
  await check('RP-initiated logout returns to the registered URI with state and ends the session', async () => {
    const t = await (async () => {
      const f = await authorize(publicRP, browser, { prompt: 'none' });
      return client.authorizationCodeGrant(publicRP, f.callback, { pkceCodeVerifier: f.verifier, expectedState: f.state, expectedNonce: f.nonce });
    })();
    const url = client.buildEndSessionUrl(publicRP, {
      id_token_hint: t.id_token, post_logout_redirect_uri: cfg.post_logout_redirect_uri, state: 'bye',
    });
    const out = await browser.navigate(url);
    assert.equal(out.url?.href, `${cfg.post_logout_redirect_uri}?state=bye`);
    const again = client.buildAuthorizationUrl(publicRP, {
      redirect_uri: cfg.redirect_uri, scope, state: 's', prompt: 'none',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const after = await browser.navigate(again);
    assert.equal(after.url.searchParams.get('error'), 'login_required');
  });
}

console.log(`ALL CHECKS PASSED (${checks})`);
