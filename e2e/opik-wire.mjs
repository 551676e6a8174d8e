// The two Opik clients of opikwire_test.go, run once with one JSON
// argument; prints one JSON line with what happened.
//
//   node opik-wire.mjs '{"mode":"browser", …}'
//   node opik-wire.mjs '{"mode":"sdk", …}'
//
// mode "browser": Debian's Chromium under npm playwright-core, every
// *.opik.test name resolved to 127.0.0.1 by Chromium's own resolver
// (--host-resolver-rules; no /etc/hosts). Input {executable, sign_in_url,
// ui_url, timeout_ms}. Steps: open the broker's one-time sign-in link and
// confirm it (the console's General tab follows); read the cookie jar; open
// ui_url on the sibling host (a top-level navigation) and, from that page,
// fetch ui_url again (a same-origin subresource, as Opik's UI calls its
// API); sign out at the broker (the console's Sign out button); read the
// jar and open ui_url again. Output {cookies_after_sign_in, ui:{status,
// body}, ui_fetch:{status, body}, cookies_after_sign_out, ui_after:{status,
// body}}.
//
// mode "sdk": the npm `opik` SDK (its OpikClient, as an application
// uses it) logs one trace with one span to api_url with api_key and
// workspace, flushes, then sends one more trace through the SDK's own REST
// client (client.api.traces.createTraces), whose error carries the status
// the server answered. Input {api_url, api_key, workspace, project,
// trace_name}. Output {flushed:true, direct:{ok, status, error}}.
// The SDK logs (tslog) through console.log: to stderr, so that stdout
// carries this script's one JSON line alone.
console.log = console.error;
console.info = console.error;
const { Opik } = await import('opik');

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (v) => process.stdout.write(`${JSON.stringify(v)}\n`);

async function browserMode() {
  const { chromium } = await import('playwright-core');
  const timeout = cfg.timeout_ms ?? 30000;
  const browser = await chromium.launch({
    executablePath: cfg.executable ?? '/usr/bin/chromium',
    headless: true,
    timeout,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP *.opik.test 127.0.0.1'],
  });
  try {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    ctx.setDefaultTimeout(timeout);
    const page = await ctx.newPage();
    const res = {};
    let r = await page.goto(cfg.sign_in_url);
    res.sign_in_page = { status: r.status(), url: page.url() };
    await Promise.all([page.waitForNavigation(), page.click('#redeem-link button[type=submit]')]);
    res.console = { url: page.url(), h1: await page.textContent('h1') };
    res.cookies_after_sign_in = await ctx.cookies();
    const read = async (resp) => ({ status: resp.status(), body: await resp.text() });
    r = await page.goto(cfg.ui_url);
    res.ui = await read(r);
    res.ui_fetch = await page.evaluate(async (u) => {
      const f = await fetch(u, { credentials: 'same-origin' });
      return { status: f.status, body: await f.text() };
    }, cfg.ui_url);
    // Back to the broker's console and its Sign out button.
    await page.goto(res.console.url);
    await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
    res.after_sign_out = { url: page.url() };
    res.cookies_after_sign_out = await ctx.cookies();
    r = await page.goto(cfg.ui_url);
    res.ui_after = await read(r);
    out(res);
  } finally {
    await browser.close();
  }
}

async function sdkMode() {
  const client = new Opik({
    apiKey: cfg.api_key,
    apiUrl: cfg.api_url,
    workspaceName: cfg.workspace,
    projectName: cfg.project,
    batchDelayMs: 50,
  });
  const trace = client.trace({ name: cfg.trace_name, input: { prompt: 'hello' } });
  const span = trace.span({ name: `${cfg.trace_name}-span`, type: 'llm', input: { q: 1 } });
  span.end({ output: { a: 2 } });
  trace.end({ output: { answer: 'world' } });
  await client.flush({ silent: true });
  const direct = { ok: false, status: 0, error: '' };
  try {
    await client.api.traces.createTraces({
      traces: [{ name: `${cfg.trace_name}-direct`, projectName: cfg.project, startTime: new Date() }],
    });
    direct.ok = true;
  } catch (e) {
    direct.status = e?.statusCode ?? 0;
    direct.error = String(e?.message ?? e).slice(0, 300);
  }
  out({ flushed: true, direct });
}

if (cfg.mode === 'browser') await browserMode();
else if (cfg.mode === 'sdk') await sdkMode();
else throw new Error(`unknown mode ${cfg.mode}`);
process.exit(0);
