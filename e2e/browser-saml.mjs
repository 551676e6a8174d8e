// Signs in through ssobroker and a SAML IdP in a real browser: Debian's
// Chromium, headless, driven by npm playwright-core. Go's cookie jar ignores
// SameSite; Chromium does not, so this is where the broker's same-site bounce
// at the ACS is proven (idp/acs.go: a cross-site POST from the IdP arrives
// without the SameSite=Lax binding cookie ssb_login, and the broker answers
// with a page that posts the same fields plus ssb_bounce=1 to itself).
//
//   node browser-saml.mjs '{"start":URL,"username":…,"password":…,"expect":URL_PREFIX,…}'
//   (or the same JSON on stdin)
//
// Input:
//   start       where the browser starts: an /oauth2/authorize URL built by
//               the relying party, or /login/{org} of the broker
//   username, password
//               typed into the IdP's login form (fields username, password)
//   expect      the relying party's redirect URI: nothing listens there, so
//               the navigation to it is intercepted and its URL captured
//               instead of loaded (see intercept: page.route cannot do it)
//   mode        "login" (default): the whole sign-in in one browser context.
//               "other-browser": the sign-in starts in context A, whose post
//               of the SAMLResponse to the ACS is intercepted (not sent); a
//               second context B, with no cookies, then posts the same form
//               to the ACS from a page on the IdP's origin (served by the
//               interception, never by the IdP), as an attacker who captured
//               the form would, and follows what the broker answers.
//   timeout_ms  for each wait; default 30000
//   screenshot  optional PNG path: the last page, as the browser drew it
//   executable  default /usr/bin/chromium
//
// Prints one JSON line on stdout:
//   {"ok":bool, "error":…, "browser":VERSION, "final_url":URL captured at expect
//    (or ""), "page":{"url","status","title","text"} where the browser stopped,
//    "requests":[{"ctx","method","url","type","status","location","failure",
//                 "acs" (a POST to an ACS), "bounce" (its body has ssb_bounce=1),
//                 "cookies_sent":[names, as Chromium sent them],
//                 "set_cookies":[cookie attributes, no values], "intercepted"}],
//    "cookies":{"A":[{name,domain,path,httpOnly,secure,sameSite,session}], "B":[…]},
//    "console":[{"ctx","type","text","url"}], "page_errors":[…],
//    "csp_violations":[{"ctx","document","directive","blocked","sample"}],
//    "csp_probe":bool}
// csp_probe says the violation detector caught a deliberate violation on a
// control page before the sign-in: without it, an empty csp_violations
// would prove nothing. "ok" is false only when the script itself failed
// (the browser did not start, a page never came, a wait timed out); whether
// the sign-in went as it should is for the caller to judge.
//
// The browser: Playwright launches /usr/bin/chromium with a fresh, empty
// profile directory of its own (its --user-data-dir, removed on close;
// Playwright refuses the flag in args) and the flags this machine needs
// (no sandbox as root, no GPU, no QUIC, no background or component
// networking: the network is closed). `npx playwright install` is never
// needed.
import { chromium } from 'playwright-core';

const ACS = /\/sso\/saml\/[^/]+\/acs$/;
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

async function readInput() {
  if (process.argv[2]) return JSON.parse(process.argv[2]);
  let s = '';
  for await (const chunk of process.stdin) s += chunk;
  return JSON.parse(s);
}

const cut = (s, n) => (s && s.length > n ? `${s.slice(0, n)}…` : s);

// intercept answers some of page's requests itself, through the DevTools
// protocol's Fetch domain on a session of its own. Playwright's page.route
// is never called for the target of a redirect (a documented limitation),
// and the relying party is reached by one. Fetch pauses only the requests
// that match patterns (wildcards * and ?), before they are sent; handle
// returns the answer ({status, headers, body}), or null to let the request
// go on untouched (cookies and all, as Chromium decided them).
async function intercept(ctx, page, patterns, handle) {
  const cdp = await ctx.newCDPSession(page);
  cdp.on('Fetch.requestPaused', async (e) => {
    try {
      const post = e.request.postData
        ?? (e.request.postDataEntries ?? []).map((x) => Buffer.from(x.bytes ?? '', 'base64').toString()).join('');
      const answer = await handle({ url: e.request.url, method: e.request.method, type: e.resourceType, post });
      if (!answer) {
        await cdp.send('Fetch.continueRequest', { requestId: e.requestId });
        return;
      }
      const headers = Object.entries({ 'Content-Type': 'text/html; charset=utf-8', ...(answer.headers ?? {}) })
        .map(([name, value]) => ({ name, value }));
      await cdp.send('Fetch.fulfillRequest', {
        requestId: e.requestId, responseCode: answer.status ?? 200, responseHeaders: headers,
        body: Buffer.from(answer.body ?? '').toString('base64'),
      });
    } catch (err) {
      process.stderr.write(`intercept ${e.request.url}: ${err?.stack ?? err}\n`);
      await cdp.send('Fetch.failRequest', { requestId: e.requestId, errorReason: 'Failed' }).catch(() => {});
    }
  });
  await cdp.send('Fetch.enable', { patterns: patterns.map((urlPattern) => ({ urlPattern, requestStage: 'Request' })) });
}

const out = {
  ok: false, browser: '', final_url: '', page: null, requests: [], cookies: {}, console: [],
  page_errors: [], csp_violations: [], csp_probe: false,
};
const pending = []; // header reads still running
const shown = new Map(); // page → {url, status} of the document it shows

let cfg;
let browser;
try {
  cfg = await readInput();
  for (const k of ['start', 'username', 'password', 'expect']) {
    if (!cfg[k]) throw new Error(`input lacks ${k}`);
  }
  const timeout = cfg.timeout_ms ?? 30000;
  browser = await chromium.launch({
    executablePath: cfg.executable ?? '/usr/bin/chromium', headless: true, args: ARGS, timeout,
  });
  out.browser = browser.version();

  // newContext is a browser profile of its own (cookies, storage), watched.
  const newContext = async (name) => {
    const ctx = await browser.newContext();
    ctx.setDefaultTimeout(timeout);
    await ctx.exposeBinding('__sbCSP', (_src, v) => { out.csp_violations.push({ ctx: name, ...v }); });
    // Added through the DevTools protocol, so no page's policy applies to it.
    await ctx.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__sbCSP({
          document: e.documentURI, directive: e.effectiveDirective || e.violatedDirective,
          blocked: e.blockedURI, sample: e.sample,
        });
      });
    });
    ctx.on('request', (req) => {
      const u = new URL(req.url());
      const entry = { ctx: name, method: req.method(), url: cut(req.url(), 400), type: req.resourceType(), status: 0 };
      if (req.method() === 'POST' && ACS.test(u.pathname)) {
        entry.acs = true;
        entry.bounce = new URLSearchParams(req.postData() ?? '').get('ssb_bounce') === '1';
      }
      out.requests.push(entry);
      pending.push((async () => {
        try {
          const h = await req.allHeaders(); // the headers as sent, cookies included
          entry.cookies_sent = (h.cookie ?? '').split(';').map((c) => c.split('=')[0].trim()).filter(Boolean);
        } catch { /* the request never went out */ }
        const resp = await req.response().catch(() => null);
        if (!resp) {
          entry.failure = req.failure()?.errorText ?? 'no response';
          return;
        }
        entry.status = resp.status();
        const location = await resp.headerValue('location').catch(() => null);
        if (location) entry.location = cut(location, 400);
        try {
          entry.set_cookies = (await resp.headersArray())
            .filter((x) => x.name.toLowerCase() === 'set-cookie')
            .map((x) => x.value.replace(/=[^;]*/, ''));
        } catch { /* gone */ }
      })());
    });
    // The last answer each page displayed (not a redirect, not a 204).
    ctx.on('response', (resp) => {
      const req = resp.request();
      const frame = req.frame();
      if (!req.isNavigationRequest() || frame !== frame.page().mainFrame()) return;
      if (resp.status() === 204 || (resp.status() >= 300 && resp.status() < 400)) return;
      shown.set(frame.page(), { url: resp.url(), status: resp.status() });
    });
    ctx.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') {
        out.console.push({ ctx: name, type: m.type(), text: cut(m.text(), 1000), url: m.location()?.url ?? '' });
      }
    });
    ctx.on('weberror', (e) => out.page_errors.push(`${name}: ${e.error().message}`));
    return ctx;
  };

  // The control: a page whose policy forbids its inline script.
  {
    const ctx = await newContext('probe');
    const probe = 'http://csp-probe.invalid/';
    const page = await ctx.newPage();
    await intercept(ctx, page, [`${probe}*`], async () => ({
      headers: { 'Content-Security-Policy': "script-src 'none'" },
      body: '<!doctype html><title>probe</title><script>document.title = "ran"</script>',
    }));
    await page.goto(probe);
    for (let i = 0; i < 50 && !out.csp_violations.some((v) => v.ctx === 'probe'); i += 1) {
      await page.waitForTimeout(100);
    }
    out.csp_probe = out.csp_violations.some((v) => v.ctx === 'probe' && v.directive === 'script-src-elem')
      && out.console.some((c) => c.ctx === 'probe' && /Content Security Policy/.test(c.text));
    out.csp_violations = out.csp_violations.filter((v) => v.ctx !== 'probe');
    out.console = out.console.filter((c) => c.ctx !== 'probe');
    out.requests = out.requests.filter((r) => r.ctx !== 'probe');
    await ctx.close();
  }

  // captured resolves with the URL of the navigation to expect.
  let capture;
  const captured = new Promise((resolve) => { capture = resolve; });
  // rp answers the requests to the relying party's origin: the navigation
  // to expect is captured, anything else (a favicon) is not found.
  const rpPattern = `${new URL(cfg.expect).origin}/*`;
  const rp = async (r) => {
    if (r.type !== 'Document' || !r.url.startsWith(cfg.expect)) return { status: 404, body: '' };
    capture(r.url);
    for (const q of out.requests) if (q.url === cut(r.url, 400)) q.intercepted = true;
    return { body: '<!doctype html><title>relying party</title><p>signed in</p>' };
  };

  // settled resolves when the page has stopped by itself: no navigation
  // of its main frame in flight or committed for quiet ms, and the document
  // loaded; or with done's value.
  const settled = (page, done, quiet = 1500) => new Promise((resolve, reject) => {
    let last = Date.now();
    const inFlight = new Set();
    const main = (r) => r.isNavigationRequest() && r.frame() === page.mainFrame();
    const onReq = (r) => { if (main(r)) { inFlight.add(r); last = Date.now(); } };
    const onDone = (r) => { if (inFlight.delete(r)) last = Date.now(); };
    const onNav = (f) => { if (f === page.mainFrame()) last = Date.now(); };
    page.on('request', onReq);
    page.on('requestfinished', onDone);
    page.on('requestfailed', onDone);
    page.on('framenavigated', onNav);
    const end = (v, err) => {
      clearInterval(tick);
      clearTimeout(limit);
      page.off('request', onReq);
      page.off('requestfinished', onDone);
      page.off('requestfailed', onDone);
      page.off('framenavigated', onNav);
      if (err) reject(err); else resolve(v);
    };
    const tick = setInterval(async () => {
      if (inFlight.size > 0 || Date.now() - last < quiet) return;
      const ready = await page.evaluate(() => document.readyState).catch(() => '');
      if (ready === 'complete' && inFlight.size === 0 && Date.now() - last >= quiet) end('settled');
    }, 200);
    const limit = setTimeout(() => end(null, new Error(`the browser did not stop within ${timeout} ms at ${page.url()}`)), timeout);
    done?.then((v) => end(v));
  });

  const describe = async (page) => {
    const main = await page.mainFrame().evaluate(() => ({
      title: document.title, text: document.body ? document.body.innerText : '',
    })).catch(() => ({ title: '', text: '' }));
    const doc = shown.get(page);
    return {
      url: page.url(), status: doc?.url === page.url() ? doc.status : 0,
      title: main.title, text: cut(main.text.replace(/\s+/g, ' ').trim(), 2000),
    };
  };

  // login drives page from start to the IdP's login form and submits it;
  // then waits until settled (started before the click, so that it sees
  // the submission's request).
  const login = async (page, done) => {
    await page.goto(cfg.start);
    const password = page.locator('input[name="password"]');
    try {
      await password.waitFor({ state: 'visible' });
    } catch (err) {
      out.page = await describe(page);
      throw new Error(`no IdP login form (input name=password) came: ${err.message}`);
    }
    await page.locator('input[name="username"]').fill(cfg.username);
    await password.fill(cfg.password);
    const submit = page.locator('form:has(input[name="password"]) [type="submit"]').first();
    const end = settled(page, done);
    end.catch(() => {}); // awaited by the caller
    await submit.click();
    return end;
  };

  const mode = cfg.mode ?? 'login';
  let last;
  if (mode === 'login') {
    const ctx = await newContext('A');
    const page = await ctx.newPage();
    await intercept(ctx, page, [rpPattern], rp);
    last = page;
    const how = await login(page, captured);
    if (how !== 'settled') out.final_url = how;
    out.page = await describe(page);
    out.cookies.A = await ctx.cookies();
  } else if (mode === 'other-browser') {
    // A: the sign-in, up to the IdP's post to the ACS, which is held back.
    const a = await newContext('A');
    let held;
    const heldForm = new Promise((resolve) => { held = resolve; });
    let origin = '';
    const pa = await a.newPage();
    pa.on('framenavigated', (f) => { if (f === pa.mainFrame()) origin = new URL(f.url()).origin; });
    await intercept(a, pa, [rpPattern, '*/sso/saml/*/acs'], async (r) => {
      if (r.url.startsWith(`${new URL(cfg.expect).origin}/`)) return rp(r);
      if (r.method !== 'POST' || !ACS.test(new URL(r.url).pathname)) return null;
      for (const q of out.requests) if (q.ctx === 'A' && q.acs && q.url === cut(r.url, 400)) q.intercepted = true;
      held({ action: r.url, body: r.post, origin });
      return { status: 204, body: '' };
    });
    const form = await Promise.race([heldForm, login(pa, heldForm).then((v) => {
      if (typeof v === 'object') return v;
      throw new Error(`context A never posted to the ACS (${v})`);
    })]);
    out.cookies.A = await a.cookies();
    if (!new URLSearchParams(form.body).get('SAMLResponse')) throw new Error(`the held post has no SAMLResponse: ${cut(form.body, 200)}`);

    // B: no cookies; the same form posted from the IdP's origin.
    const b = await newContext('B');
    const replay = `${form.origin}/__replay-in-another-browser`;
    const esc = (v) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    const inputs = [...new URLSearchParams(form.body)]
      .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
    const pb = await b.newPage();
    await intercept(b, pb, [rpPattern, replay], async (r) => (r.url === replay
      ? { body: `<!doctype html><title>replay</title><form method="post" action="${esc(form.action)}">${inputs}</form>`
          + '<script>document.forms[0].submit()</script>' }
      : rp(r)));
    last = pb;
    await pb.goto(replay);
    const how = await settled(pb, captured);
    if (how !== 'settled') out.final_url = how;
    out.page = await describe(pb);
    out.cookies.B = await b.cookies();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  if (cfg.screenshot && last) await last.screenshot({ path: cfg.screenshot, fullPage: true }).catch(() => {});
  await Promise.allSettled(pending);
  out.ok = true;
} catch (err) {
  out.error = err?.stack ?? String(err);
  await Promise.allSettled(pending);
}
for (const list of Object.values(out.cookies)) {
  for (const c of list) {
    delete c.value;
    c.session = c.expires === -1;
  }
}
if (browser) await browser.close().catch(() => {});
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(out.ok ? 0 : 1);
