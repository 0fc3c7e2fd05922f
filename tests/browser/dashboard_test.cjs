// The dashboard in a real headless Chromium (Debian's), driven by playwright-core. Run by
// tests/integration/dashboard_browser_test.cpp, which starts the daemon and its components and
// passes everything in the environment:
//   BERTH_URL, BERTH_TOKEN  the daemon
//   APP                     a component registered stopped, whose start waits for READY_GATE
//                           and that prints "late line 42" once LINE_GATE exists
//   WEB, WEB_DIR            a deployed component; WEB_DIR's next deploy installs until
//                           DEPLOY_GATE exists
//   BERTH_BIN               the CLI (its environment finds the daemon)
//   PLAYWRIGHT, CHROMIUM    the playwright-core module and the browser binary
//   SHOTS                   where the screenshots go
// Each step prints its name; the first failure exits 1 with a screenshot of the moment.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require(process.env.PLAYWRIGHT);

const env = process.env;
const url = env.BERTH_URL;
const wait = { timeout: 60000 };
let page;

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function shot(name) {
  await page.screenshot({ path: path.join(env.SHOTS, `${name}.png`), fullPage: true });
}

// Waits until the component's row shows `text` in the cell of class `cell`.
async function cell(name, cls, text) {
  await page.waitForFunction(([n, c, t]) => {
    const td = document.querySelector(`#components tr[data-name="${n}"] td.${c}`);
    return td && td.textContent === t;
  }, [name, cls, text], wait);
}

async function confirm() {
  await page.locator('#confirm-yes').click();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM,
    headless: true,
    // As root, and without the background traffic this closed network refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext();
  page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('console', (m) => {
    // A refused request logs its status; only script errors and policy violations count.
    if (m.type() === 'error' && !/status of (401|403|429)/.test(m.text())) problems.push(m.text());
  });
  try {
    const steps = [
      ['the page loads with its policy and asks for the token', async () => {
        const resp = await page.goto(`${url}/`);
        const csp = resp.headers()['content-security-policy'] || '';
        check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `CSP: ${csp}`);
        await page.locator('#signin').waitFor({ state: 'visible', ...wait });
        await shot('01-signin');
      }],
      ['a wrong token is refused', async () => {
        await page.locator('#token').fill('not-the-token');
        await page.locator('#signin-form button').click();
        await page.waitForFunction(
          () => document.getElementById('signin-error').textContent.includes('wrong token'),
          null, wait);
      }],
      ['the right token signs in with an HttpOnly, SameSite=Strict cookie', async () => {
        await page.locator('#token').fill(env.BERTH_TOKEN);
        await page.locator('#signin-form button').click();
        await page.locator('#app').waitFor({ state: 'visible', ...wait });
        const cookie = (await context.cookies()).find((c) => c.name === 'berth_session');
        check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
        const visible = await page.evaluate(() => document.cookie);
        check(!visible.includes('berth_session'), 'the page script can read the session cookie');
        await cell(env.APP, 'state', 'stopped');
        await cell(env.WEB, 'state', 'ready');
        await shot('02-signed-in');
      }],
      ['a component started from the page goes from starting to ready', async () => {
        await page.locator(`#components tr[data-name="${env.APP}"]`).click();
        await page.locator('#detail button[data-action="start"]').click();
        await confirm();
        await cell(env.APP, 'state', 'starting');
        await shot('03-starting');
        fs.writeFileSync(env.READY_GATE, '');
        await cell(env.APP, 'state', 'ready');
        await cell(env.APP, 'ready', 'yes');
        await shot('04-ready');
      }],
      ['a log line appears in the tail, and the filter keeps only what matches', async () => {
        await page.waitForFunction(
          () => document.getElementById('log').textContent.includes('booting'), null, wait);
        fs.writeFileSync(env.LINE_GATE, '');
        await page.waitForFunction(
          () => document.getElementById('log').textContent.includes('late line 42'), null, wait);
        await page.locator('#log-filter').fill('late');
        const text = await page.locator('#log').textContent();
        check(text.includes('late line 42') && !text.includes('booting'), `filtered: ${text}`);
        await shot('05-log');
        await page.locator('#log-filter').fill('');
      }],
      ['a restart from the page asks first, then restarts', async () => {
        check(!(await page.locator('#confirm').isVisible()), 'a confirmation shows unasked');
        await page.locator('#detail button[data-action="restart"]').click();
        check(await page.locator('#confirm').isVisible(), 'no confirmation asked');
        await page.locator('#confirm-no').click();
        check(!(await page.locator('#confirm').isVisible()), 'cancel left the confirmation');
        await cell(env.APP, 'restarts', '0');
        await page.locator('#detail button[data-action="restart"]').click();
        await confirm();
        await page.waitForFunction(
          () => document.getElementById('action-result').textContent.startsWith('restart: done'),
          null, wait);
        await cell(env.APP, 'restarts', '1');
        await cell(env.APP, 'state', 'ready');
        await shot('06-restarted');
      }],
      ['a state-changing request without the CSRF token is refused', async () => {
        const answers = await page.evaluate(async (name) => {
          const target = `/v1/components/${name}/restart`;
          const bare = await fetch(target, { method: 'POST' });
          const wrong = await fetch(target, { method: 'POST', headers: { 'X-CSRF-Token': 'x' } });
          return [bare.status, (await bare.json()).error.code, wrong.status];
        }, env.APP);
        check(answers[0] === 403 && answers[1] === 'csrf_failed' && answers[2] === 403,
          `answers: ${answers}`);
        await cell(env.APP, 'restarts', '1');
      }],
      ['a deploy shows its phases as they happen', async () => {
        execFileSync(env.BERTH_BIN, ['deploy', env.WEB_DIR, '--name', env.WEB, '--no-follow'],
          { stdio: 'pipe' });
        await page.locator('#deploying').waitFor({ state: 'visible', ...wait });
        await page.locator('#deploy-phases li[data-phase="installing"].current').waitFor(wait);
        await shot('07-deploying');
        fs.writeFileSync(env.DEPLOY_GATE, '');
        await page.locator('#deploy-result[data-status="success"]').waitFor(wait);
        await page.locator('#deploy-phases li[data-phase="restarting"]').waitFor(wait);
      }],
      ['the history shows both releases, and the older one rolls back from the page', async () => {
        await page.locator(`#components tr[data-name="${env.WEB}"]`).click();
        await page.waitForFunction(
          () => document.querySelectorAll('#deployments tbody tr').length === 2, null, wait);
        await page.locator('#deployments button.rollback').click();
        await confirm();
        await page.waitForFunction(() => {
          const first = document.querySelector('#deployments tbody tr');
          return first && first.querySelector('td.kind').textContent === 'rollback' &&
            first.querySelector('td.status').textContent === 'success';
        }, null, wait);
        await shot('08-rolled-back');
      }],
      ['signing out ends the session', async () => {
        await page.locator('#signout').click();
        await page.locator('#signin').waitFor({ state: 'visible', ...wait });
        const status = await page.evaluate(async () => (await fetch('/v1/components')).status);
        check(status === 401, `after sign-out: ${status}`);
      }],
    ];
    for (const [name, run] of steps) {
      process.stdout.write(`step: ${name}\n`);
      await run();
    }
    check(problems.length === 0, `the page reported: ${problems.join(' | ')}`);
    process.stdout.write('all steps passed\n');
  } catch (e) {
    process.stdout.write(`FAILED: ${e.message}\n`);
    await shot('failure').catch(() => {});
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main().catch((e) => { process.stdout.write(`FAILED: ${e.stack}\n`); process.exitCode = 1; });
