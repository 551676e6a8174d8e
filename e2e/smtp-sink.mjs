// A loopback SMTP server (npm smtp-server) for the tests of idp/mail: every
// message it accepts is parsed by npm mailparser — an independent MIME
// parser — and printed as one JSON line on stdout.
//
//   node smtp-sink.mjs '{"secure":false,"starttls":false,"cert":"PATH","key":"PATH","auth":"user:pass"}'
//
// secure: implicit TLS from the first byte (smtps://); starttls: offer
// STARTTLS (else the command is disabled); cert/key: PEM files for either;
// auth: require AUTH with exactly these credentials (only over TLS).
//
// stdout: {"ready":true,"port":N} first, then one line per message:
//   {"mail":{"envelope_from","envelope_to":[..],"from","from_address","to",
//    "subject","text","html","secure","user","content_type","message_id","date"}}
import fs from 'node:fs';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const [user, pass] = cfg.auth ? cfg.auth.split(/:(.*)/s, 2) : [];
const disabled = [];
if (!cfg.starttls) disabled.push('STARTTLS');
if (!cfg.auth) disabled.push('AUTH');

const opts = {
  secure: !!cfg.secure,
  authOptional: !cfg.auth,
  allowInsecureAuth: false,
  disabledCommands: disabled,
  banner: 'ssobroker idp/mail test sink',
  size: 1 << 20,
  logger: false,
  onAuth(auth, session, callback) {
    if (auth.username === user && auth.password === pass) return callback(null, { user: auth.username });
    return callback(new Error('Invalid username or password'));
  },
  onData(stream, session, callback) {
    simpleParser(stream).then((m) => {
      const mail = {
        envelope_from: session.envelope.mailFrom?.address ?? '',
        envelope_to: session.envelope.rcptTo.map((r) => r.address),
        from: m.from?.text ?? '',
        from_address: m.from?.value?.[0]?.address ?? '',
        to: m.to ? [m.to].flat().map((a) => a.text).join(', ') : '',
        subject: m.subject ?? '',
        text: m.text ?? '',
        html: typeof m.html === 'string' ? m.html : '',
        secure: !!session.secure,
        user: session.user ?? '',
        content_type: m.headers.get('content-type')?.value ?? '',
        message_id: m.messageId ?? '',
        date: m.date ? m.date.toISOString() : '',
      };
      process.stdout.write(`${JSON.stringify({ mail })}\n`);
      callback();
    }, (err) => callback(err));
  },
};
if (cfg.cert) opts.cert = fs.readFileSync(cfg.cert);
if (cfg.key) opts.key = fs.readFileSync(cfg.key);

const server = new SMTPServer(opts);
server.on('error', (err) => process.stderr.write(`smtp: ${err?.stack ?? err}\n`));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
process.stdout.write(`${JSON.stringify({ ready: true, port: server.server.address().port })}\n`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
