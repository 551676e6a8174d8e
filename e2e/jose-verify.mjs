// Verifies ssobroker access tokens with panva/jose, an independent JOSE
// implementation: createRemoteJWKSet fetches and caches the JWKS from the
// broker over HTTP, jwtVerify checks signature, iss, aud, exp and typ.
//
//   node jose-verify.mjs JWKS_URI ISSUER AUDIENCE [ALG[,ALG…]]
//
// Prints {"ready":true}, then reads one token per line on stdin and answers
// each with one JSON line: {"ok":true,"kid":…,"alg":…,"payload":{…}} or
// {"ok":false,"code":…,"message":…}. One process keeps one JWKS cache, so a
// test can verify tokens before and after a key rotation against it.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import readline from 'node:readline';

const [jwksUri, issuer, audience, algs] = process.argv.slice(2);
if (!jwksUri || !issuer || !audience) {
  console.error('usage: node jose-verify.mjs JWKS_URI ISSUER AUDIENCE [ALG,…]');
  process.exit(2);
}
const jwks = createRemoteJWKSet(new URL(jwksUri));
const options = {
  issuer,
  audience,
  typ: 'at+jwt',
  algorithms: (algs || 'ES256').split(','),
  requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
};

process.stdout.write(JSON.stringify({ ready: true }) + '\n');
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  const token = line.trim();
  if (!token) continue;
  let out;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, options);
    out = { ok: true, kid: protectedHeader.kid, alg: protectedHeader.alg, payload };
  } catch (err) {
    out = { ok: false, code: err.code || err.name, message: err.message };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
