// jose-mint.mjs: an external JWT issuer made with npm jose, for the tests of
// the jwt-bearer grant and token exchange (docs/jwt-issuers.md). It reads one
// JSON request on stdin — {keys: [{kid, alg}], tokens: [{key, claims, omitKid}]}
// — makes a fresh key pair per key, signs each token with its key and writes
// {jwks, tokens} to stdout: the public JWKS to serve and the compact JWTs.
import * as jose from 'jose';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);

const keys = [];
const jwks = { keys: [] };
for (const k of req.keys) {
  const { publicKey, privateKey } = await jose.generateKeyPair(k.alg, { extractable: true });
  const pub = await jose.exportJWK(publicKey);
  if (k.kid) pub.kid = k.kid;
  pub.alg = k.alg;
  pub.use = 'sig';
  jwks.keys.push(pub);
  keys.push({ privateKey, kid: k.kid, alg: k.alg });
}
const tokens = [];
for (const t of req.tokens) {
  const k = keys[t.key];
  const header = { alg: k.alg, typ: 'JWT' };
  if (k.kid && !t.omitKid) header.kid = k.kid;
  tokens.push(await new jose.SignJWT(t.claims).setProtectedHeader(header).sign(k.privateKey));
}
process.stdout.write(JSON.stringify({ jwks, tokens }));
