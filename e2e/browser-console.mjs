// Drives the admin console in a real browser for console_test.go: Debian's
// Chromium, headless, under npm playwright-core, one step at a time, and a
// loopback SMTP server (npm smtp-server) whose mail is parsed by npm
// mailparser, an independent MIME parser.
//
//   node browser-console.mjs '{"executable":"/usr/bin/chromium","timeout_ms":30000,"origin":"http://127.0.0.1:PORT"}'
//
// (origin may also come later, with the first step that needs it.)
// Prints one JSON line when ready:
//   {"ready":true,"browser":VERSION,"smtp_port":PORT,"csp_probe":bool}
// then reads one JSON command per line on stdin and answers each with one
// line {"id":…, "ok":bool, "error":…, "page":{url,status,title,h1,flash,
// form_error,text}, "value":…, "problems":[…]}.
//
// Commands ({"id":N, "op":…, "ctx":NAME, …}); ctx names a browser profile of
// its own (cookies, storage), created on first use, one page each:
//   goto {url}                     navigate
//   click {selector, nav}          click (nav: wait for the navigation it starts, default true)
//   fill {selector, value}         type into a field (replacing its value)
//   select {selector, value}       choose an option
//   check {selector, checked}      set a checkbox
//   press {key, nav}               one key on the focused element (nav default false)
//   type {text}                    type text on the focused element
//   tab_to {selector, max}         press Tab until the element has focus; value: presses
//   wait_for {selector, text}      wait until the element is visible (and its
//                                  innerText contains text, when given)
//   wait_closed {selector}         wait until a <dialog> is no longer open
//   axe {}                         run axe-core on the page as it is now (a
//                                  dialog opened without a navigation)
//   focused {}                     value: the focused element's id
//   text {selector}                value: its innerText ("" when absent)
//   texts {selector}               value: innerText of every match
//   value {selector}               value: an input's value
//   checked {selector}             value: whether a checkbox is checked
//   attrs {selector, attr}         value: the attribute of every match
//   grant_clipboard {}             let the origin's pages read and write the clipboard
//   dialogs {}                     value: the messages of the dialogs accepted so far
//   close {}                       close the profile
//   visible {selector}             value: whether it is visible
//   clipboard {}                   value: the clipboard's text
//   screenshot {path}              the viewport (1280x800) as PNG
//   state {}                       page only
//   mails {}                       value: every mail received so far, parsed
//   token {token_endpoint, jwks_uri, issuer, client_id, client_secret}
//                                  client_credentials at the broker, then the
//                                  access token verified with npm jose;
//                                  value: {status, body, verified, payload, header, error}
//   report {}                      value: {pages_checked, axe_ms, axe_minor:[…]}
//
// problems are what this command brought up: console errors and warnings,
// uncaught script errors, CSP violations (a securitypolicyviolation
// listener added through the DevTools protocol, which no page's policy
// governs) and axe-core violations of impact serious or critical on every
// page of origin loaded by the command (the rules of AXE_TAGS). Violations
// of lower impact are kept for report. "page" comes with the steps that may
// change the page (goto, click, press, state).
//
// axe-core runs in the page's main world through page.evaluate, which
// Playwright sends as a DevTools Runtime.evaluate: script evaluated by the
// DevTools protocol is not subject to the page's Content-Security-Policy
// (script-src 'self' forbids inline and foreign scripts, so a <script> tag
// or page.addScriptTag would be blocked). No page runs with bypassCSP: the
// policy stays in force for everything the pages themselves load.
//
// The browser: Playwright launches /usr/bin/chromium with a fresh, empty
// profile directory of its own and the flags this machine needs (see
// browser-saml.mjs); `npx playwright install` is never needed.
import fs from 'node:fs';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// The rules axe-core runs: WCAG 2.0, 2.1 and 2.2 levels A and AA, and its
// best practices (landmarks, headings, regions).
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

const cut = (s, n) => (s && s.length > n ? `${s.slice(0, n)}…` : s);
const cfg = JSON.parse(process.argv[2] ?? '{}');
const timeout = cfg.timeout_ms ?? 30000;
let origin = cfg.origin ?? '';

// ---- SMTP: accept any mail on loopback, parse it with mailparser ----
const mails = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'], // plain SMTP on loopback: the broker sends without TLS when none is offered
  banner: 'ssobroker e2e sink',
  size: 1 << 20,
  logger: false,
  onData(stream, session, callback) {
    simpleParser(stream).then((m) => {
      mails.push({
        envelope_from: session.envelope.mailFrom?.address ?? '',
        envelope_to: session.envelope.rcptTo.map((r) => r.address),
        from: m.from?.text ?? '',
        to: m.to ? [m.to].flat().map((a) => a.text).join(', ') : '',
        subject: m.subject ?? '',
        text: m.text ?? '',
        html: typeof m.html === 'string' ? m.html : '',
        content_type: m.headers.get('content-type')?.value ?? '',
        message_id: m.messageId ?? '',
        date: m.date ? m.date.toISOString() : '',
      });
      callback();
    }, (err) => callback(err));
  },
});
await new Promise((resolve, reject) => {
  smtp.once('error', reject);
  smtp.listen(0, '127.0.0.1', resolve);
});
smtp.on('error', (err) => process.stderr.write(`smtp: ${err?.stack ?? err}\n`));

// ---- the browser ----
const browser = await chromium.launch({ executablePath: cfg.executable ?? '/usr/bin/chromium', headless: true, args: ARGS, timeout });
let problems = []; // since the last answer
const axeMinor = [];
let pagesChecked = 0;
let axeMS = 0; // time spent in axe.run
const contexts = new Map(); // name → {ctx, page, loads, checked, status, dialogs}

async function newContext(name) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  ctx.setDefaultTimeout(timeout);
  await ctx.exposeBinding('__sbCSP', (_src, v) => { problems.push({ kind: 'csp', ctx: name, ...v }); });
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__sbCSP({
        document: e.documentURI, directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI, sample: e.sample,
      });
    });
  });
  const entry = { name, ctx, page: null, loads: 0, checked: -1, status: 0, statusURL: '', dialogs: [] };
  ctx.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      problems.push({ kind: 'console', ctx: name, type: m.type(), text: cut(m.text(), 1000), url: m.location()?.url ?? '' });
    }
  });
  ctx.on('weberror', (e) => problems.push({ kind: 'script', ctx: name, text: e.error().message }));
  ctx.on('response', (resp) => {
    const req = resp.request();
    const frame = req.frame();
    if (!req.isNavigationRequest() || !entry.page || frame !== entry.page.mainFrame()) return;
    if (resp.status() >= 300 && resp.status() < 400) return;
    entry.status = resp.status();
    entry.statusURL = resp.url();
  });
  const page = await ctx.newPage();
  page.on('load', () => { entry.loads += 1; });
  page.on('dialog', (d) => { entry.dialogs.push(d.message()); d.accept().catch(() => {}); });
  entry.page = page;
  contexts.set(name, entry);
  return entry;
}

async function context(name) {
  return contexts.get(name) ?? newContext(name);
}

// The control: a page whose policy forbids its inline script must be
// reported, or an empty list of violations would prove nothing.
let cspProbe = false;
{
  const e = await newContext('probe');
  const probe = 'http://csp-probe.invalid/';
  await e.page.route(`${probe}*`, (route) => route.fulfill({
    status: 200, contentType: 'text/html; charset=utf-8',
    headers: { 'Content-Security-Policy': "script-src 'none'" },
    body: '<!doctype html><title>probe</title><script>document.title = "ran"</script>',
  }));
  await e.page.goto(probe);
  for (let i = 0; i < 50 && !problems.some((p) => p.kind === 'csp' && p.ctx === 'probe'); i += 1) {
    await e.page.waitForTimeout(100);
  }
  cspProbe = problems.some((p) => p.kind === 'csp' && p.ctx === 'probe' && p.directive === 'script-src-elem');
  problems = [];
  await e.ctx.close();
  contexts.delete('probe');
}

async function describe(e) {
  const p = e.page;
  const d = await p.evaluate(() => {
    const t = (sel) => document.querySelector(sel)?.innerText?.replace(/\s+/g, ' ').trim() ?? '';
    const main = document.querySelector('main') ?? document.body;
    return {
      title: document.title, h1: t('h1'), flash: t('#flash'), form_error: t('#form-error'),
      text: main ? main.innerText.replace(/\s+/g, ' ').trim() : '',
    };
  }).catch(() => ({ title: '', h1: '', flash: '', form_error: '', text: '' }));
  return { url: p.url(), status: e.statusURL === p.url() ? e.status : 0, ...d, text: cut(d.text, 4000) };
}

// axe runs on the page shown when it is a new document of our origin (or
// when asked to, force).
async function checkPage(e, force) {
  if (e.loads === e.checked && !force) return;
  e.checked = e.loads;
  const url = e.page.url();
  if (!origin || !url.startsWith(`${origin}/`)) return;
  const has = await e.page.evaluate(() => typeof window.axe === 'object').catch(() => false);
  if (!has) await e.page.evaluate(axeSource);
  const started = Date.now();
  const res = await e.page.evaluate((tags) => window.axe.run(document, {
    resultTypes: ['violations'], runOnly: { type: 'tag', values: tags },
  }), AXE_TAGS);
  axeMS += Date.now() - started;
  pagesChecked += 1;
  for (const v of res.violations) {
    const item = {
      kind: 'axe', ctx: e.name, url, id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), html: cut(n.html, 300), summary: cut(n.failureSummary, 400) })),
    };
    if (v.impact === 'serious' || v.impact === 'critical') problems.push(item);
    else axeMinor.push(item);
  }
}

// settle waits for the navigation a step started, if any, to load.
async function act(e, nav, fn) {
  const p = e.page;
  if (!nav) {
    await fn();
    return;
  }
  const before = e.loads;
  const navigated = p.waitForNavigation({ waitUntil: 'load', timeout });
  navigated.catch(() => {});
  await fn();
  await navigated;
  if (e.loads === before) await p.waitForLoadState('load');
}

async function tokenRequest(c) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: c.client_id, client_secret: c.client_secret });
  const resp = await fetch(c.token_endpoint, {
    method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
  });
  const text = await resp.text();
  const out = { status: resp.status, body: cut(text, 2000), verified: false };
  if (resp.status !== 200) return out;
  const tok = JSON.parse(text).access_token;
  try {
    out.header = decodeProtectedHeader(tok);
    const { payload } = await jwtVerify(tok, createRemoteJWKSet(new URL(c.jwks_uri)), {
      issuer: c.issuer, audience: c.client_id, typ: 'at+jwt', algorithms: ['ES256', 'EdDSA', 'RS256'],
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    });
    out.verified = true;
    out.payload = payload;
  } catch (err) {
    out.error = `${err.code ?? err.name}: ${err.message}`;
  }
  return out;
}

async function run(cmd) {
  if (cmd.origin) origin = cmd.origin;
  const op = cmd.op;
  if (op === 'mails') return { value: mails };
  if (op === 'token') return { value: await tokenRequest(cmd) };
  if (op === 'report') return { value: { pages_checked: pagesChecked, axe_ms: axeMS, axe_minor: axeMinor } };
  const e = await context(cmd.ctx ?? 'main');
  const p = e.page;
  const loc = () => p.locator(cmd.selector).first();
  let value;
  switch (op) {
    case 'goto':
      await p.goto(cmd.url, { waitUntil: 'load' });
      break;
    case 'click':
      await act(e, cmd.nav !== false, () => loc().click());
      break;
    case 'fill':
      await loc().fill(cmd.value);
      break;
    case 'select':
      await loc().selectOption(cmd.value);
      break;
    case 'check':
      await loc().setChecked(Boolean(cmd.checked));
      break;
    case 'press':
      await act(e, Boolean(cmd.nav), () => p.keyboard.press(cmd.key));
      break;
    case 'type':
      await p.keyboard.type(cmd.text);
      break;
    case 'tab_to': {
      const max = cmd.max ?? 40;
      let n = 0;
      for (; n < max; n += 1) {
        if (await p.evaluate((sel) => document.activeElement === document.querySelector(sel), cmd.selector)) break;
        await p.keyboard.press('Tab');
      }
      if (!await p.evaluate((sel) => document.activeElement === document.querySelector(sel), cmd.selector)) {
        throw new Error(`${cmd.selector} never got the focus in ${max} Tab presses`);
      }
      value = n;
      break;
    }
    case 'wait_for':
      await loc().waitFor({ state: 'visible' });
      if (cmd.text) {
        await p.waitForFunction(([sel, text]) => (document.querySelector(sel)?.innerText ?? '').includes(text), [cmd.selector, cmd.text]);
      }
      break;
    case 'wait_closed':
      await p.waitForFunction((sel) => !document.querySelector(sel)?.open, cmd.selector);
      break;
    case 'axe':
      await checkPage(e, true);
      break;
    case 'focused':
      value = await p.evaluate(() => document.activeElement?.id ?? '');
      break;
    case 'text':
      value = (await p.locator(cmd.selector).count()) ? (await loc().innerText()).replace(/\s+/g, ' ').trim() : '';
      break;
    case 'texts':
      value = (await p.locator(cmd.selector).allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim());
      break;
    case 'value':
      value = await loc().inputValue();
      break;
    case 'checked':
      value = await loc().isChecked();
      break;
    case 'attrs':
      value = await p.locator(cmd.selector).evaluateAll((els, a) => els.map((el) => el.getAttribute(a) ?? ''), cmd.attr);
      break;
    case 'visible':
      value = await loc().isVisible();
      break;
    case 'clipboard':
      value = await p.evaluate(() => navigator.clipboard.readText());
      break;
    case 'grant_clipboard':
      await e.ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
      break;
    case 'dialogs':
      value = e.dialogs;
      break;
    case 'screenshot':
      await p.screenshot({ path: cmd.path, fullPage: false });
      break;
    case 'state':
      break;
    case 'close':
      await e.ctx.close();
      contexts.delete(e.name);
      return {};
    default:
      throw new Error(`unknown op ${op}`);
  }
  await checkPage(e);
  // Reading the page costs a round trip: only after steps that may change it.
  return { value, page: ['goto', 'click', 'press', 'state'].includes(op) ? await describe(e) : undefined };
}

process.stdout.write(`${JSON.stringify({ ready: true, browser: browser.version(), smtp_port: smtp.server.address().port, csp_probe: cspProbe })}\n`);

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let cmd;
  let out;
  try {
    cmd = JSON.parse(line);
    out = { id: cmd.id, ok: true, ...(await run(cmd)) };
  } catch (err) {
    out = { id: cmd?.id, ok: false, error: err?.stack ?? String(err) };
    const e = contexts.get(cmd?.ctx ?? 'main');
    if (e) out.page = await describe(e).catch(() => null);
  }
  // Script errors and console lines may arrive just after a page loads.
  if (['goto', 'click', 'press'].includes(cmd?.op)) await new Promise((r) => { setTimeout(r, 50); });
  out.problems = problems;
  problems = [];
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
await browser.close().catch(() => {});
smtp.close();
process.exit(0);
