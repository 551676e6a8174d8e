// A relying party for ssobroker's end-to-end tests, driven over JSON lines:
// npm openid-client v6 (OpenID-certified, independent of us) plays the
// application and npm jose verifies access tokens, while the Go test plays
// the browser (cookie jar, redirects, the upstream IdP's login).
//
//   node rp-driver.mjs
//
// Prints {"ready":true}, then answers each request line on stdin with one
// line: {"id":…,"ok":true,…} or {"id":…,"ok":false,"error":{…}}. Requests:
//
//   {"op":"discover","rp":NAME,"issuer":URL,"client_id":…,"client_secret":…,"via":ORIGIN}
//       OpenID discovery of issuer; every request of this RP (discovery,
//       token, userinfo, JWKS) goes to ORIGIN instead of the issuer's origin
//       when via is set: another replica behind the same issuer, as a load
//       balancer would route it. No client_secret: a public client (PKCE).
//   {"op":"authorize","rp":…,"redirect_uri":…,"scope":…,"params":{…}}
//       → {"url":…,"flow":ID}: a PKCE S256 authorization URL with fresh
//       state and nonce, kept under ID for the callback.
//   {"op":"callback","rp":…,"flow":ID,"url":REDIRECTED_URL,
//    "expected_state":…,"expected_nonce":…}
//       openid-client checks the response (state, iss), exchanges the code
//       and validates the ID token (signature by the JWKS, iss, aud, exp,
//       nonce, at_hash); the expected_* override the flow's (negative tests).
//       → {"tokens":{…},"claims":{…},"ms":TOKEN_REQUEST_MS}
//   {"op":"refresh","rp":…,"refresh_token":…}            → {"tokens","claims"}
//   {"op":"userinfo","rp":…,"access_token":…,"sub":…}     → {"userinfo"}
//   {"op":"end_session_url","rp":…,"params":{…}}          → {"url"}
//   {"op":"verify_access_token","jwks_uri":…,"token":…,"issuer":…,"audience":…}
//       jose createRemoteJWKSet + jwtVerify with typ at+jwt (RFC 9068)
//       → {"header","payload"}
//
// Errors carry what openid-client and jose say: name, code, the OAuth error
// and description from the server, and the message chain.
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import readline from 'node:readline';

const rps = new Map(); // name → {config, via}
const flows = new Map(); // id → {verifier, state, nonce}
const jwksSets = new Map(); // uri → remote JWK set (keeps its cache)
let flowSeq = 0;

function rerouted(via) {
  return (url, options) => {
    const u = new URL(url);
    if (via) {
      const v = new URL(via);
      u.protocol = v.protocol;
      u.host = v.host;
    }
    return fetch(u.href, options);
  };
}

function rp(name) {
  const r = rps.get(name);
  if (!r) throw new Error(`no relying party ${name}: discover it first`);
  return r.config;
}

function tokensOut(t) {
  let claims;
  try {
    claims = t.claims();
  } catch {
    claims = undefined;
  }
  return {
    tokens: {
      access_token: t.access_token, token_type: t.token_type, expires_in: t.expires_in,
      refresh_token: t.refresh_token, id_token: t.id_token, scope: t.scope,
    },
    claims,
  };
}

const ops = {
  async discover(req) {
    const options = { execute: [client.allowInsecureRequests] }; // loopback http in tests
    if (req.via) options[client.customFetch] = rerouted(req.via);
    const auth = req.client_secret ? client.ClientSecretBasic(req.client_secret) : client.None();
    const config = await client.discovery(new URL(req.issuer), req.client_id, undefined, auth, options);
    if (req.via) config[client.customFetch] = rerouted(req.via);
    client.enableNonRepudiationChecks(config); // verify ID-token signatures with the JWKS
    rps.set(req.rp, { config, via: req.via });
    return { metadata: config.serverMetadata() };
  },

  async authorize(req) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp(req.rp), {
      redirect_uri: req.redirect_uri, scope: req.scope, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      ...(req.params || {}),
    });
    const id = `f${++flowSeq}`;
    flows.set(id, { verifier, state, nonce });
    return { url: url.href, flow: id, state, nonce };
  },

  async callback(req) {
    const f = flows.get(req.flow);
    if (!f) throw new Error(`no flow ${req.flow}`);
    const started = performance.now();
    const t = await client.authorizationCodeGrant(rp(req.rp), new URL(req.url), {
      pkceCodeVerifier: f.verifier,
      expectedState: req.expected_state ?? f.state,
      expectedNonce: req.expected_nonce ?? f.nonce,
      idTokenExpected: true,
    });
    return { ...tokensOut(t), ms: performance.now() - started };
  },

  async refresh(req) {
    return tokensOut(await client.refreshTokenGrant(rp(req.rp), req.refresh_token));
  },

  async userinfo(req) {
    return { userinfo: await client.fetchUserInfo(rp(req.rp), req.access_token, req.sub) };
  },

  async end_session_url(req) {
    return { url: client.buildEndSessionUrl(rp(req.rp), req.params).href };
  },

  async verify_access_token(req) {
    let set = jwksSets.get(req.jwks_uri);
    if (!set) {
      set = createRemoteJWKSet(new URL(req.jwks_uri));
      jwksSets.set(req.jwks_uri, set);
    }
    const { payload, protectedHeader } = await jwtVerify(req.token, set, {
      issuer: req.issuer, audience: req.audience, typ: 'at+jwt', algorithms: ['ES256', 'EdDSA', 'RS256'],
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    });
    return { header: protectedHeader, payload };
  },
};

function errorOut(err) {
  const out = { name: err?.name, code: err?.code, message: err?.message ?? String(err) };
  // openid-client: ResponseBodyError carries the server's OAuth error;
  // WWWAuthenticateChallengeError the parsed challenges.
  if (err?.error) out.error = err.error;
  if (err?.error_description) out.error_description = err.error_description;
  if (err?.status) out.status = err.status;
  const chain = [];
  for (let e = err, i = 0; e && i < 6; e = e.cause, i += 1) {
    chain.push(`${e.name ?? ''} ${e.code ?? ''} ${e.error ?? ''} ${e.message ?? ''}`.trim());
    if (e.cause && typeof e.cause === 'object' && !(e.cause instanceof Error)) {
      chain.push(JSON.stringify(e.cause));
      break;
    }
  }
  out.chain = chain.join(' <- ');
  return out;
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let req;
  let out;
  try {
    req = JSON.parse(line);
    const op = ops[req.op];
    if (!op) throw new Error(`unknown op ${req.op}`);
    out = { id: req.id, ok: true, ...(await op(req)) };
  } catch (err) {
    out = { id: req?.id, ok: false, error: errorOut(err) };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
