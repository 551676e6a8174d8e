// A relying party's back-channel logout endpoint (OpenID Connect
// Back-Channel Logout 1.0) that verifies every logout_token with npm jose,
// independently of the broker's Go code.
//
//   node backchannel-rp.mjs '{"issuer":"…","jwks_uri":"…"}'
//
// stdin: one JSON line {"audience":"client id"} before any delivery is
// expected (the client is registered after this endpoint exists).
// stdout: {"ready":true,"url":"http://127.0.0.1:N/backchannel"} first, then
// one line per POST:
//   {"status":500|200|400,"claims":{…},"header":{…}}  a verified token (the
//     first delivery for each sid is answered 500, to make the broker retry)
//   {"status":400,"invalid":"reason"}                 a refused request
import http from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const jwks = createRemoteJWKSet(new URL(cfg.jwks_uri));
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
let audience = null;
const failedOnce = new Set();

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (line.trim()) audience = JSON.parse(line).audience;
  }
});

const out = (v) => process.stdout.write(`${JSON.stringify(v)}\n`);

// §2.6: the checks a receiver makes beyond the JWT's signature, iss, aud
// and typ (which jwtVerify makes).
function logoutTokenProblem(c) {
  if (!c.events || typeof c.events !== 'object' || Array.isArray(c.events)) return 'no events claim';
  const ev = c.events[EVENT];
  if (!ev || typeof ev !== 'object' || Array.isArray(ev) || Object.keys(ev).length !== 0) return 'events lacks the back-channel logout member (an empty object)';
  if (typeof c.sid !== 'string' || c.sid === '') return 'no sid (this client requires the session)';
  if (typeof c.iat !== 'number') return 'no iat';
  if (typeof c.exp !== 'number') return 'no exp';
  if (typeof c.jti !== 'string' || c.jti === '') return 'no jti';
  if ('nonce' in c) return 'a nonce is present (§2.4 forbids it)';
  return null;
}

const server = http.createServer((req, res) => {
  const answer = (status, v) => { out({ status, ...v }); res.writeHead(status, { 'cache-control': 'no-store' }); res.end(); };
  if (req.method !== 'POST' || req.url !== '/backchannel') return answer(400, { invalid: `${req.method} ${req.url}` });
  const ct = req.headers['content-type'] ?? '';
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { body += d; });
  req.on('end', async () => {
    if (!ct.startsWith('application/x-www-form-urlencoded')) return answer(400, { invalid: `content-type ${ct}` });
    const token = new URLSearchParams(body).get('logout_token');
    if (!token) return answer(400, { invalid: 'no logout_token' });
    if (!audience) return answer(400, { invalid: 'a delivery before the audience was set' });
    let verified;
    try {
      verified = await jwtVerify(token, jwks, { issuer: cfg.issuer, audience, typ: 'logout+jwt', requiredClaims: ['iat', 'jti', 'sid'] });
    } catch (e) {
      return answer(400, { invalid: `jose: ${e.code ?? e.name}: ${e.message}` });
    }
    const problem = logoutTokenProblem(verified.payload);
    if (problem) return answer(400, { invalid: problem, claims: verified.payload });
    const first = !failedOnce.has(verified.payload.sid);
    failedOnce.add(verified.payload.sid);
    answer(first ? 500 : 200, { claims: verified.payload, header: verified.protectedHeader });
  });
});

server.listen(0, '127.0.0.1', () => {
  out({ ready: true, url: `http://127.0.0.1:${server.address().port}/backchannel` });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
