// An upstream corporate IdP for ssobroker's tests: npm oidc-provider (panva,
// OpenID-certified) on a loopback port, with one static confidential client
// and a scriptable login, so a Go test can drive the whole authorization code
// flow over HTTP without a browser.
//
//   node upstream-idp.mjs PORT REDIRECT_URI[,REDIRECT_URI…] [options]
//
//   PORT                 loopback port; 0 picks a free one
//   REDIRECT_URI         the broker's callback URL(s), registered exactly
//   --client-id ID       default "ssobroker"
//   --client-secret S    default "ssobroker-secret"
//   --claims-in-id-token put scope-requested claims (email, name, groups) in
//                        the ID token too; by default (conformIdTokenClaims)
//                        oidc-provider puts them only in userinfo, as many
//                        real IdPs do
//   --accounts FILE      JSON object {accountId: {email, email_verified, name, groups}}
//   --post-logout-redirect-uris URI[,URI…]
//                        the client's post_logout_redirect_uris (RP-initiated
//                        logout at end_session_endpoint, /session/end: a
//                        confirmation form posting xsrf and logout=yes)
//
// Prints one JSON line on stdout when ready: {"ready":true,"issuer":"http://127.0.0.1:PORT"}.
//
// Login: oidc-provider sends the browser to /interaction/:uid. That route
// finishes the interaction at once with an account id taken from the query
// (?account=ID), or else from the authorization request's login_hint, and
// answers with a redirect only. Query parameters may also define or replace
// the account's claims for this and later logins: email, email_verified
// (true|false|absent), name, groups (comma-separated), amr (comma-separated,
// default "pwd"). An unknown account answers 403. ?deny=CODE instead ends
// the interaction with that OAuth error (e.g. access_denied), sent back to
// the client's redirect URI.
//
// Consent is granted automatically for the static client (loadExistingGrant),
// so a login needs no second interaction. Every login should use a fresh
// cookie jar: switching accounts over an existing IdP session answers with an
// auto-submitting logout form a plain HTTP client cannot follow.
//
// GET /__test/stats answers {"userinfo":N,"token":N,"backchannel_ms":MS}:
// requests seen, so a test can tell whether the broker called userinfo, and
// the IdP's own time answering the requests a relying party makes server to
// server (token, userinfo, JWKS, discovery), summed in milliseconds, so a
// test can tell the broker's time from the IdP's.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

function usage(msg) {
  console.error(`upstream-idp: ${msg}\nusage: node upstream-idp.mjs PORT REDIRECT_URI[,…] [--client-id ID] [--client-secret S] [--claims-in-id-token] [--accounts FILE]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const positional = [];
const opts = { clientId: 'ssobroker', clientSecret: 'ssobroker-secret', claimsInIdToken: false, accounts: null, postLogout: [] };
for (let i = 0; i < args.length; i += 1) {
  const a = args[i];
  switch (a) {
    case '--client-id': opts.clientId = args[++i]; break;
    case '--client-secret': opts.clientSecret = args[++i]; break;
    case '--claims-in-id-token': opts.claimsInIdToken = true; break;
    case '--accounts': opts.accounts = args[++i]; break;
    case '--post-logout-redirect-uris': opts.postLogout = args[++i].split(',').filter(Boolean); break;
    default:
      if (a.startsWith('--')) usage(`unknown option ${a}`);
      positional.push(a);
  }
}
if (positional.length !== 2) usage('PORT and REDIRECT_URI are required');
const port = Number(positional[0]);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad port ${positional[0]}`);
const redirectUris = positional[1].split(',').filter(Boolean);
if (redirectUris.length === 0) usage('at least one REDIRECT_URI');

// accounts: id → {email, email_verified (true|false|undefined), name, groups}
const accounts = new Map();
if (opts.accounts) {
  for (const [id, claims] of Object.entries(JSON.parse(fs.readFileSync(opts.accounts, 'utf8')))) {
    accounts.set(id, claims);
  }
}

const stats = { userinfo: 0, token: 0, backchannel_ms: 0 };

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const SCOPES = 'openid email profile groups';

const provider = new Provider(issuer, {
  clients: [{
    client_id: opts.clientId,
    client_secret: opts.clientSecret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: opts.postLogout,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // A claim must be declared here and in scopes to be released.
  claims: {
    // amr comes from the login (interactionFinished) and is released with
    // openid, so it is in every ID token.
    openid: ['sub', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  conformIdTokenClaims: !opts.claimsInIdToken,
  pkce: { required: () => true },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const a = accounts.get(id);
    if (!a) return undefined;
    return {
      accountId: id,
      async claims() {
        const c = { sub: id };
        if (a.email !== undefined) c.email = a.email;
        if (a.email_verified !== undefined) c.email_verified = a.email_verified;
        if (a.name !== undefined) c.name = a.name;
        if (a.groups !== undefined) c.groups = a.groups;
        return c;
      },
    };
  },
  // First-party client: consent is implied, so no consent interaction.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPES);
    await grant.save();
    return grant;
  },
});

function defineAccount(id, q) {
  const a = { ...(accounts.get(id) || {}) };
  if (q.has('email')) a.email = q.get('email');
  if (q.has('email_verified')) {
    const v = q.get('email_verified');
    a.email_verified = v === 'absent' ? undefined : v === 'true';
  }
  if (q.has('name')) a.name = q.get('name');
  if (q.has('groups')) a.groups = q.get('groups').split(',').filter(Boolean);
  if (Object.keys(a).length > 0) accounts.set(id, a);
}

function send(res, status, body, type = 'text/plain; charset=utf-8') {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.end(body);
}

async function interaction(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  const q = url.searchParams;
  if (q.get('deny')) {
    return provider.interactionFinished(req, res, { error: q.get('deny'), error_description: 'the user cancelled' }, { mergeWithLastSubmission: false });
  }
  const id = q.get('account') || details.params.login_hint;
  if (!id) return send(res, 400, 'no account: add ?account=ID or send login_hint');
  defineAccount(id, q);
  if (!accounts.has(id)) return send(res, 403, `unknown account ${id}`);
  if (details.prompt.name !== 'login') {
    return send(res, 500, `unexpected prompt ${details.prompt.name}: ${JSON.stringify(details.prompt.details)}`);
  }
  const amr = (q.get('amr') || 'pwd').split(',').filter(Boolean);
  return provider.interactionFinished(req, res, { login: { accountId: id, amr } }, { mergeWithLastSubmission: false });
}

const oidc = provider.callback();
server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) {
      await interaction(req, res, url);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/__test/stats') {
      send(res, 200, JSON.stringify(stats), 'application/json');
      return;
    }
    if (url.pathname === '/me') stats.userinfo += 1;
    if (url.pathname === '/token') stats.token += 1;
    if (['/me', '/token', '/jwks', '/.well-known/openid-configuration'].includes(url.pathname)) {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        stats.backchannel_ms += Number(process.hrtime.bigint() - started) / 1e6;
      });
    }
    oidc(req, res);
  } catch (err) {
    console.error('upstream-idp:', err);
    if (!res.headersSent) send(res, 500, String(err && err.message));
  }
});

provider.on('server_error', (ctx, err) => console.error('upstream-idp server_error:', err));

process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
