// End-to-end: a real headless Chromium walks the double opt-in journey of a
// real `stayconnected serve` process, on loopback, in a temp directory.
//
//   node signup.e2e.mjs PATH/TO/stayconnected
//
// Environment (all optional):
//   SC_E2E_CHROMIUM     browser binary (default /usr/bin/chromium)
//   SC_E2E_KEEP=1       keep the temp directory even when everything passed
//   SC_E2E_TIMEOUT_MS   bound for each wait (default 15000)
//   SC_E2E_SCREENSHOTS  a directory: a full-page PNG of the page after each step
//
// It builds nothing. It exits 0 only when every step passed; otherwise it
// prints the failing step, the service's log and where the screenshot is.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const binary = process.argv[2] && path.resolve(process.argv[2]); // it runs with cwd = temp dir
if (!binary || !existsSync(binary)) {
  console.error(`usage: node signup.e2e.mjs PATH/TO/stayconnected  (got: ${binary ?? 'nothing'})`);
  process.exit(2);
}
const chromiumPath = process.env.SC_E2E_CHROMIUM || '/usr/bin/chromium';
const waitMs = Number(process.env.SC_E2E_TIMEOUT_MS || 15000);
const adminKey = 'e2e-' + randomBytes(16).toString('hex');

class StepFailure extends Error {}
function check(cond, message) {
  if (!cond) throw new StepFailure(message);
}

// Polls fn until it returns a truthy value; bounded, never a blind sleep.
async function waitFor(what, fn, timeoutMs = waitMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new StepFailure(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(100);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// --- the service -------------------------------------------------------------

class Service {
  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.outbox = path.join(dir, 'outbox');
    this.log = '';
    this.exit = null; // {code, signal} once it has exited
  }

  start() {
    const env = {
      ...process.env,
      SC_LISTEN: `127.0.0.1:${this.port}`,
      SC_PUBLIC_URL: this.base,
      SC_DB: path.join(this.dir, 'stayconnected.db'),
      SC_EMAIL_OUTBOX_DIR: this.outbox,
      SC_SMS_LOG_FILE: path.join(this.dir, 'sms.log'),
      SC_EMAIL_PROVIDER: 'file',
      SC_SMS_PROVIDER: 'log',
      SC_ADMIN_API_KEY: adminKey,
    };
    this.proc = spawn(binary, ['serve'], { env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => {
      this.log += chunk.toString();
    };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (e) => {
        this.log += `spawn ${binary}: ${e.message}\n`;
        this.exit = { code: null, signal: null, error: e.message };
        resolve(this.exit);
      });
    });
  }

  async waitHealthy() {
    await waitFor(`${this.base}/healthz to answer 200`, async () => {
      if (this.exit) throw new StepFailure(`the service exited early (${JSON.stringify(this.exit)})`);
      const r = await fetch(`${this.base}/healthz`);
      return r.status === 200;
    });
  }

  async stop() {
    if (this.exit) return this.exit;
    this.proc.kill('SIGTERM');
    const timeout = sleep(waitMs, null, { ref: false });
    const r = await Promise.race([this.exited, timeout]);
    if (r === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
      throw new StepFailure(`the service did not stop within ${waitMs} ms of SIGTERM`);
    }
    return r;
  }

  async subscriber(email, key = adminKey) {
    const r = await fetch(`${this.base}/api/v1/admin/subscribers?email=${encodeURIComponent(email)}`, {
      headers: key ? { Authorization: `Bearer ${key}` } : {},
    });
    const text = await r.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      // keep null; the caller reports the raw text
    }
    return { status: r.status, body, text };
  }

  async emailState(email) {
    const r = await this.subscriber(email);
    check(r.status === 200, `admin GET subscriber ${email}: expected 200, got ${r.status}: ${r.text}`);
    const state = r.body?.channels?.email?.state;
    check(typeof state === 'string', `admin GET subscriber ${email}: no channels.email.state in ${r.text}`);
    return state;
  }
}

// --- email parsing -----------------------------------------------------------

// RFC 2045 quoted-printable: soft breaks "=\r\n" vanish, "=XX" is one byte,
// and the bytes are UTF-8 (every part we send says charset=UTF-8).
function decodeQuotedPrintable(s) {
  const soft = s.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function splitHeaders(raw) {
  const m = raw.match(/\r?\n\r?\n/);
  check(m, 'the .eml has no blank line between headers and body');
  const head = raw.slice(0, m.index).replace(/\r?\n[ \t]+/g, ' '); // unfold
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: raw.slice(m.index + m[0].length) };
}

function decodePart(headers, body) {
  const cte = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  if (cte === 'quoted-printable') return decodeQuotedPrintable(body);
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

// Returns {headers, text, html}: the decoded text/plain and text/html bodies.
function parseEmail(raw) {
  const { headers, body } = splitHeaders(raw);
  const ct = headers['content-type'] || 'text/plain';
  const out = { headers, text: '', html: '' };
  const boundary = ct.match(/boundary="?([^";]+)"?/i)?.[1];
  if (/^multipart\//i.test(ct)) {
    check(boundary, `multipart email without a boundary: ${ct}`);
    const parts = body.split(`--${boundary}`).slice(1);
    check(parts.length >= 2 && parts.at(-1).startsWith('--'), 'the multipart email has no closing boundary');
    for (const p of parts.slice(0, -1)) {
      const part = splitHeaders(p.replace(/^\r?\n/, ''));
      const pct = (part.headers['content-type'] || '').toLowerCase();
      const decoded = decodePart(part.headers, part.body);
      if (pct.startsWith('text/plain')) out.text = decoded;
      else if (pct.startsWith('text/html')) out.html = decoded;
    }
  } else if (/^text\/html/i.test(ct)) {
    out.html = decodePart(headers, body);
  } else {
    out.text = decodePart(headers, body);
  }
  return out;
}

// --- the journey -------------------------------------------------------------

let emlDir = '';
// Complete messages only: the writer's temp files start with '.' and are
// renamed into place when whole. Sorted, so the first one is the oldest.
async function emlFiles() {
  return (await readdir(emlDir)).filter((n) => n.endsWith('.eml') && !n.startsWith('.')).sort();
}

const results = [];
let current = '';
let shotPage = null; // the page SC_E2E_SCREENSHOTS photographs
async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  await fn();
  results.push(name);
  console.log(`  ok  ${name} (${Date.now() - t0} ms)`);
  if (process.env.SC_E2E_SCREENSHOTS && shotPage && !shotPage.isClosed()) {
    const file = path.join(process.env.SC_E2E_SCREENSHOTS, `${String(results.length).padStart(2, '0')}.png`);
    await shotPage.screenshot({ path: file, fullPage: true });
  }
}

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sc-e2e-'));
  let service = null;
  let browser = null;
  let page = null;
  let ok = false;
  const pageErrors = [];
  try {
    current = 'start the service';
    // A port the kernel just handed out; retried if someone takes it first.
    for (let attempt = 1; ; attempt++) {
      service = new Service(dir, await freePort());
      service.start();
      try {
        await service.waitHealthy();
        break;
      } catch (e) {
        if (attempt >= 3 || !service.exit) throw e;
        console.log(`  (port ${service.port} was not usable, trying another)`);
      }
    }
    emlDir = service.outbox;
    console.log(`service: ${service.base} (pid ${service.proc.pid}, temp dir ${dir})`);

    // A new, empty profile inside the temp dir. Playwright takes the profile
    // directory as launchPersistentContext's argument, not as --user-data-dir.
    current = 'launch chromium';
    const launchStart = Date.now();
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      executablePath: chromiumPath,
      headless: true,
      timeout: waitMs * 2,
      baseURL: service.base,
      locale: 'en-US',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = browser;
    console.log(`chromium: ${chromiumPath} started in ${Date.now() - launchStart} ms`);
    context.setDefaultTimeout(waitMs);
    page = await context.newPage();
    shotPage = page;
    page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`console: ${m.text()}`);
    });

    const email = `e2e.${randomBytes(4).toString('hex')}@example.com`;
    const firstName = 'Zoë';

    await step('GET / shows the sign-up form', async () => {
      const r = await page.goto('/');
      check(r.status() === 200, `GET / answered ${r.status()}`);
      check(/text\/html/.test(r.headers()['content-type'] || ''), `GET / content-type ${r.headers()['content-type']}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      check((await page.locator('form[action="/api/v1/subscriptions"][method="post"]').count()) === 1,
        'no <form method="post" action="/api/v1/subscriptions"> on /');
    });

    await step('the form is accessible (every input labelled, page has lang and title)', async () => {
      const unlabelled = await page.evaluate(() => {
        const bad = [];
        for (const el of document.querySelectorAll('form input, form select, form textarea')) {
          if (el.type === 'hidden') continue;
          const named = (el.labels && el.labels.length > 0 && [...el.labels].some((l) => l.textContent.trim() !== '')) ||
            (el.getAttribute('aria-label') || '').trim() !== '' ||
            (el.getAttribute('aria-labelledby') || '').trim() !== '';
          if (!named) bad.push(el.outerHTML);
        }
        return bad;
      });
      check(unlabelled.length === 0, `inputs without a label: ${unlabelled.join(' ')}`);
      check(((await page.getAttribute('html', 'lang')) || '') !== '', '<html> has no lang attribute');
      check((await page.title()).trim() !== '', 'the page has no <title>');
      // Reached the way a screen reader user would: by their labels and roles.
      await page.getByLabel('Email address').waitFor();
      await page.getByLabel('First name').waitFor();
      await page.getByLabel('Postal code').waitFor();
      await page.getByLabel('Mobile number', { exact: true }).waitFor();
      const consent = page.getByRole('checkbox');
      check((await consent.count()) === 1, 'expected one SMS consent checkbox');
      const consentName = (await consent.evaluate((el) => [...el.labels].map((l) => l.textContent).join(' '))).trim();
      check(consentName.length > 20, `the SMS consent checkbox has no consent text next to it: "${consentName}"`);
      await page.getByRole('button', { name: /sign up/i }).waitFor();
    });

    await step('submitting email + first name lands on the thank-you page', async () => {
      await page.getByLabel('Email address').fill(email);
      await page.getByLabel('First name').fill(firstName);
      const [post] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/subscriptions') && r.request().method() === 'POST'),
        page.getByRole('button', { name: /sign up/i }).click(),
      ]);
      check(post.status() === 303, `POST /api/v1/subscriptions answered ${post.status()}, expected 303`);
      await page.waitForURL((u) => u.pathname === '/thanks');
      const h1 = (await page.getByRole('heading', { level: 1 }).textContent()) || '';
      check(/thank you/i.test(h1), `thank-you page heading is "${h1}"`);
    });

    await step('the subscriber is pending', async () => {
      const state = await service.emailState(email);
      check(state === 'pending', `expected pending after sign-up, got ${state}`);
      const noKey = await service.subscriber(email, '');
      check(noKey.status === 401, `admin API without a key answered ${noKey.status}, expected 401`);
    });

    let mail;
    await step('a confirmation .eml arrives in the outbox', async () => {
      const file = await waitFor(`a .eml in ${service.outbox}`, async () => {
        const names = await emlFiles();
        return names.length > 0 ? path.join(service.outbox, names[0]) : null;
      });
      mail = parseEmail(await readFile(file, 'utf8'));
      check(mail.headers.to && mail.headers.to.includes(email), `To: is "${mail.headers.to}", expected ${email}`);
      check(mail.text.includes(`Hello ${firstName}`), `the decoded text part does not greet "${firstName}":\n${mail.text}`);
      check(/^<https?:\/\/[^>]+\/unsubscribe\/[^>]+>/.test(mail.headers['list-unsubscribe'] || ''),
        `List-Unsubscribe header is "${mail.headers['list-unsubscribe']}"`);
      check(mail.headers['list-unsubscribe-post'] === 'List-Unsubscribe=One-Click',
        `List-Unsubscribe-Post header is "${mail.headers['list-unsubscribe-post']}"`);
    });

    const urlIn = (text, kind) => {
      const re = new RegExp(`${service.base.replace(/[.]/g, '\\.')}/${kind}/[^\\s"<>]+`);
      const m = text.match(re);
      check(m, `no ${service.base}/${kind}/… link in the decoded text part:\n${text}`);
      return m[0];
    };

    let confirmUrl;
    await step('GET on the confirm link shows a button and changes nothing', async () => {
      confirmUrl = urlIn(mail.text, 'confirm');
      check(mail.html.includes(confirmUrl), 'the HTML part does not carry the same confirm link as the text part');
      const r = await page.goto(confirmUrl);
      check(r.status() === 200, `GET ${confirmUrl} answered ${r.status()}`);
      await page.getByRole('button', { name: /confirm/i }).waitFor();
      const state = await service.emailState(email);
      check(state === 'pending', `GET on the confirm link changed the state to ${state}`);
    });

    await step('pressing Confirm subscribes', async () => {
      const [post] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === confirmUrl),
        page.getByRole('button', { name: /confirm/i }).click(),
      ]);
      check(post.status() === 200, `POST ${confirmUrl} answered ${post.status()}`);
      await page.getByRole('heading', { name: 'You are subscribed' }).waitFor();
      const state = await service.emailState(email);
      check(state === 'confirmed', `expected confirmed, got ${state}`);
    });

    await step('a welcome email follows the confirmation, with an unsubscribe link', async () => {
      const file = await waitFor('a second .eml (the welcome message)', async () => {
        const names = await emlFiles();
        return names.length > 1 ? path.join(service.outbox, names[names.length - 1]) : null;
      });
      const welcome = parseEmail(await readFile(file, 'utf8'));
      check((welcome.headers.to || '').includes(email), `welcome To: is "${welcome.headers.to}"`);
      check(/unsubscribe/.test(welcome.headers['list-unsubscribe'] || ''), 'the welcome email has no List-Unsubscribe');
      check(!/\/confirm\//.test(welcome.text), 'the welcome email carries a confirm link');
    });

    let unsubscribeUrl;
    await step('GET on the unsubscribe link from the email shows a button and changes nothing', async () => {
      unsubscribeUrl = urlIn(mail.text, 'unsubscribe');
      check(mail.headers['list-unsubscribe'] === `<${unsubscribeUrl}>`,
        `List-Unsubscribe "${mail.headers['list-unsubscribe']}" differs from the body's link ${unsubscribeUrl}`);
      const r = await page.goto(unsubscribeUrl);
      check(r.status() === 200, `GET ${unsubscribeUrl} answered ${r.status()}`);
      await page.getByRole('button', { name: /unsubscribe/i }).waitFor();
      const state = await service.emailState(email);
      check(state === 'confirmed', `GET on the unsubscribe link changed the state to ${state}`);
    });

    await step('pressing Unsubscribe unsubscribes', async () => {
      const [post] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === unsubscribeUrl),
        page.getByRole('button', { name: /unsubscribe/i }).click(),
      ]);
      check(post.status() === 200, `POST ${unsubscribeUrl} answered ${post.status()}`);
      await page.getByRole('heading', { name: /unsubscribed/i }).waitFor();
      const state = await service.emailState(email);
      check(state === 'unsubscribed', `expected unsubscribed, got ${state}`);
    });

    await step('an invalid email re-renders the form with the error and 422', async () => {
      const before = (await emlFiles()).length;
      await page.goto('/');
      // Past the browser's own type=email check, as an old browser or a bot would be.
      await page.locator('form[action="/api/v1/subscriptions"]').evaluate((f) => {
        f.noValidate = true;
      });
      const bad = 'not-an-email';
      await page.getByLabel('Email address').fill(bad);
      await page.getByLabel('First name').fill('Bad');
      const [post] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/subscriptions') && r.request().method() === 'POST'),
        page.getByRole('button', { name: /sign up/i }).click(),
      ]);
      check(post.status() === 422, `POST with email "${bad}" answered ${post.status()}, expected 422`);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const message = ((await alert.textContent()) || '').trim();
      check(message.length > 0, 'the error alert is empty');
      check((await page.getByLabel('Email address').inputValue()) === bad, 'the form did not keep what was typed');
      check((await page.getByLabel('First name').inputValue()) === 'Bad', 'the form did not keep the first name');
      const r = await service.subscriber(bad);
      check(r.status !== 200, `an invalid address was stored: ${r.text}`);
      const after = (await emlFiles()).length;
      check(after === before, `the refused sign-up sent mail: ${before} .eml before, ${after} after`);
    });

    await step('no script errors or CSP violations in the browser', async () => {
      check(pageErrors.length === 0, pageErrors.join('\n'));
    });

    await browser.close();
    browser = null;

    await step('SIGTERM stops the service with exit code 0', async () => {
      const exit = await service.stop();
      check(exit.code === 0, `the service exited with ${JSON.stringify(exit)} after SIGTERM`);
    });
    ok = true;
  } catch (e) {
    const what = e instanceof StepFailure ? e.message : (e && e.stack) || String(e);
    console.log(`\nFAILED: ${current}\n  ${what.replace(/\n/g, '\n  ')}`);
    if (page) {
      const shot = path.join(dir, 'failure.png');
      try {
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`  screenshot: ${shot} (page ${page.url()})`);
      } catch {
        // the page may be gone
      }
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (service && !service.exit) {
      service.proc.kill('SIGKILL');
      await service.exited;
    }
    if (!ok && service) {
      console.log(`  service log:\n    ${service.log.trim().replace(/\n/g, '\n    ')}`);
    }
    if (ok && !process.env.SC_E2E_KEEP) await rm(dir, { recursive: true, force: true });
    else console.log(`  temp dir kept: ${dir}`);
  }
  const failed = ok ? 0 : 1;
  console.log(`e2e: ${results.length} passed, ${failed} failed`);
  // exitCode, not exit(): let stdout drain so the log above arrives whole.
  process.exitCode = ok ? 0 : 1;
}

main();
