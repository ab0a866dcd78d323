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

    // --- the phone path ---------------------------------------------------------
    const phone = '+1 650 253 0000';
    const phoneE164 = '+16502530000';
    const smsLog = path.join(dir, 'sms.log');
    const smsLines = async () => {
      if (!existsSync(smsLog)) return [];
      return (await readFile(smsLog, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    };
    const phoneState = async () => {
      const r = await fetch(`${service.base}/api/v1/admin/subscribers?phone=${encodeURIComponent(phoneE164)}`, {
        headers: { Authorization: `Bearer ${adminKey}` },
      });
      return r.status === 200 ? (await r.json())?.channels?.sms?.state : `HTTP ${r.status}`;
    };

    await step('the SMS consent checkbox is unchecked by default, its disclosure next to it', async () => {
      await page.goto('/');
      const consent = page.getByRole('checkbox');
      check((await consent.count()) === 1, 'expected one SMS consent checkbox');
      check(!(await consent.isChecked()), 'the SMS consent checkbox is ticked before anyone ticks it');
      check(!(await consent.evaluate((el) => el.defaultChecked || el.hasAttribute('checked'))),
        'the SMS consent checkbox carries a checked attribute');
      const rel = await consent.evaluate((el) => {
        const text = document.getElementById('sms-consent-text');
        if (!text) return { error: 'no #sms-consent-text element' };
        const labelled = [...el.labels].some((l) => l.contains(text));
        const described = (el.getAttribute('aria-describedby') || '').split(/\s+/).includes(text.id);
        const a = el.getBoundingClientRect();
        const b = text.getBoundingClientRect();
        return {
          labelled,
          described,
          adjacent: el.nextElementSibling === text,
          text: text.textContent.trim(),
          // The disclosure starts beside the box: on its line, just right of it.
          sameLine: b.top < a.bottom && a.top < b.bottom,
          gap: b.left - a.right,
          visible: b.width > 0 && b.height > 0 && getComputedStyle(text).visibility === 'visible',
        };
      });
      check(!rel.error, rel.error);
      check(rel.labelled || rel.described, 'the disclosure is neither in the checkbox\'s label nor its aria-describedby');
      check(rel.adjacent, 'the disclosure is not the element right after the checkbox');
      check(rel.visible, 'the disclosure is not visible');
      check(rel.sameLine && rel.gap >= 0 && rel.gap < 40,
        `the disclosure is not beside the checkbox (same line ${rel.sameLine}, gap ${rel.gap}px)`);
      for (const words of ['recurring text messages', 'not a condition of any purchase', 'Msg & data rates may apply', 'STOP', 'HELP']) {
        check(rel.text.includes(words), `the disclosure does not say "${words}": ${rel.text}`);
      }
      // A screen reader announces the disclosure as the checkbox's name.
      await page.getByRole('checkbox', { name: /not a condition of any purchase/ }).waitFor();
    });

    await step('a mobile number without the consent box ticked is refused with a visible error', async () => {
      await page.getByLabel('Mobile number', { exact: true }).fill(phone);
      const [post] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/subscriptions') && r.request().method() === 'POST'),
        page.getByRole('button', { name: /sign up/i }).click(),
      ]);
      check(post.status() === 422, `POST with a phone and no consent answered ${post.status()}, expected 422`);
      const alert = page.getByRole('alert');
      await alert.waitFor({ state: 'visible' });
      const message = ((await alert.textContent()) || '').trim();
      check(/consent/i.test(message), `the error does not name the consent box: "${message}"`);
      const consent = page.getByRole('checkbox');
      check((await consent.getAttribute('aria-invalid')) === 'true', 'the consent box is not marked aria-invalid');
      check(!(await consent.isChecked()), 'the re-rendered form ticked the consent box itself');
      check((await page.getByLabel('Mobile number', { exact: true }).inputValue()) === phone, 'the form did not keep the number');
      const state = await phoneState();
      check(state === 'HTTP 404', `a refused number was stored: ${state}`);
      check((await smsLines()).length === 0, 'a refused sign-up sent a text');
    });

    await step('with the box ticked the sign-up succeeds and a confirmation text is sent', async () => {
      await page.getByRole('checkbox').check();
      const [post] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/subscriptions') && r.request().method() === 'POST'),
        page.getByRole('button', { name: /sign up/i }).click(),
      ]);
      check(post.status() === 303, `POST with a phone and consent answered ${post.status()}, expected 303`);
      await page.waitForURL((u) => u.pathname === '/thanks');
      const line = await waitFor(`a text to ${phoneE164} in ${smsLog}`, async () =>
        (await smsLines()).find((l) => l.includes(phoneE164)));
      const sms = JSON.parse(line);
      const body = JSON.stringify(sms);
      for (const words of ['YES', 'STOP', 'HELP']) check(body.includes(words), `the confirmation text lacks "${words}": ${line}`);
      const state = await phoneState();
      check(state === 'pending', `expected the number pending, got ${state}`);
    });

    await step('the trap field is neither visible nor focusable, and people leave it empty', async () => {
      await page.goto('/');
      const trap = page.locator('form input[name="website"]');
      check((await trap.count()) === 1, 'no trap field (input name="website") in the form');
      const info = await trap.evaluate((el) => {
        const r = el.getBoundingClientRect();
        return {
          tabindex: el.getAttribute('tabindex'),
          autocomplete: el.getAttribute('autocomplete'),
          hiddenFromAT: !!el.closest('[aria-hidden="true"]'),
          onScreen: r.right > 0 && r.bottom > 0 && r.left < window.innerWidth && r.top < window.innerHeight,
          // What could show of it is clipped to its 1 px box.
          clipArea: (() => {
            const box = el.parentElement.getBoundingClientRect();
            return getComputedStyle(el.parentElement).overflow === 'hidden' ? box.width * box.height : Infinity;
          })(),
          value: el.value,
        };
      });
      check(info.tabindex === '-1', `the trap field has tabindex ${info.tabindex}`);
      check(info.autocomplete === 'off', `the trap field has autocomplete ${info.autocomplete}`);
      check(info.hiddenFromAT, 'the trap field is not inside aria-hidden="true"');
      check(!info.onScreen, 'the trap field is on screen');
      check(info.clipArea <= 1, `the trap field's box shows ${info.clipArea} px²`);
      check(info.value === '', 'the trap field is not empty');
      check((await page.getByRole('textbox', { name: /leave this field/i }).count()) === 0,
        'the trap field is in the accessibility tree');
      // Tab through the whole page: every stop is a real control, never the trap.
      await page.locator('body').focus();
      const stops = [];
      for (let i = 0; i < 15; i++) {
        await page.keyboard.press('Tab');
        stops.push(await page.evaluate(() => document.activeElement?.getAttribute('name') || document.activeElement?.tagName));
      }
      check(!stops.includes('website'), `Tab reached the trap field: ${stops.join(', ')}`);
      check(stops.includes('sms_consent') && stops.includes('phone'), `Tab did not reach the phone controls: ${stops.join(', ')}`);
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
