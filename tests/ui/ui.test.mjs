// ui.test.mjs - berthd's web UI in Debian's headless Chromium, driven by
// playwright-core. Run by tests/ui/run.sh, which seeds the registry and
// starts berthd; UI_MODE says which auth berthd runs with:
//
//   basic  htpasswd: login form, refused then accepted password, list and
//          search repositories, tags, copy pull, manifest with layers,
//          config and referrers, index platforms, delete a tag
//   token  token service: login form after an anonymous token, a 403 on a
//          delete shown as such, sign out, delete with a delete-scoped token
//
// Steps run in order and stop at the first failure (each needs the one
// before); prints "ok - STEP" / "not ok - STEP" and a closing count line.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const base = process.env.BERTH_URL;
const mode = process.env.UI_MODE || 'basic';
const artifacts = process.env.ARTIFACTS || 'build/test-artifacts';
const host = new URL(base).host;
const alice = { user: 'alice', pass: process.env.ALICE_PW };
const viewer = { user: 'viewer', pass: process.env.VIEWER_PW };

let passed = 0;
let failed = 0;
const problems = [];   // console errors and page errors: none are expected

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll until fn() is truthy (or throw what it last said).
async function until(what, fn, timeout = 10000) {
  const end = Date.now() + timeout;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = ` (${e.message.split('\n')[0]})`;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last}`);
    await sleep(100);
  }
}

function same(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${mode}: ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${mode}: ${name}: ${e.message}`);
    throw e;
  }
}

// The registry API from here (not the page), to check what the page did.
async function apiTags(repo, who) {
  const headers = {};
  if (mode === 'token') {
    const q = new URLSearchParams({ service: 'berth-ui', scope: `repository:${repo}:pull` });
    const r = await fetch(`${base}/auth/token?${q}`, {
      headers: { Authorization: 'Basic ' + Buffer.from(`${who.user}:${who.pass}`).toString('base64') },
    });
    headers.Authorization = `Bearer ${(await r.json()).token}`;
  } else {
    headers.Authorization = 'Basic ' + Buffer.from(`${who.user}:${who.pass}`).toString('base64');
  }
  const r = await fetch(`${base}/v2/${repo}/tags/list`, { headers });
  if (!r.ok) throw new Error(`tags/list answered ${r.status}`);
  return (await r.json()).tags;
}

async function signIn(page, who, { expectRefused = false } = {}) {
  const dialog = page.getByRole('dialog', { name: 'Sign in to the registry' });
  await dialog.waitFor({ state: 'visible' });
  await dialog.getByLabel('Username').fill(who.user);
  await dialog.getByLabel('Password').fill(who.pass);
  await dialog.getByRole('button', { name: 'Sign in' }).click();
  if (expectRefused) {
    await until('the refusal in the login form', async () =>
      (await dialog.isVisible()) && /not accepted/.test(await page.locator('#login-reason').textContent()));
  } else {
    await dialog.waitFor({ state: 'hidden' });
    await until('the account name in the header', async () =>
      (await page.locator('#account-name').textContent()) === `Signed in as ${who.user}`);
  }
}

const repoLinks = (page) => page.locator('.repo-list a').allTextContents();
const tagRows = (page) => page.locator('table.tags tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));

async function basicSteps(page) {
  await step('the login form appears when the API answers 401', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByRole('dialog', { name: 'Sign in to the registry' }).waitFor({ state: 'visible' });
    await page.screenshot({ path: `${artifacts}/ui-login.png` });
  });
  await step('a wrong password is refused in the form', () =>
    signIn(page, { user: 'alice', pass: 'not-the-password' }, { expectRefused: true }));
  await step('the right password signs in; kept in sessionStorage only', async () => {
    await signIn(page, alice);
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem('berth.credentials'), local: localStorage.length,
    }));
    same(JSON.parse(stored.session || '{}').username, 'alice', 'user in sessionStorage');
    same(stored.local, 0, 'localStorage entries');
  });
  await step('repositories are listed', async () => {
    await until('three repositories', async () => (await repoLinks(page)).length === 3);
    same(await repoLinks(page), ['demo/alpha', 'demo/beta', 'demo/multi'], 'repositories');
    same(await page.locator('#repo-count').textContent(), '3 repositories', 'count');
  });
  await step('the search box filters repositories', async () => {
    await page.getByRole('searchbox', { name: 'Search repositories' }).fill('bet');
    await until('one match', async () => (await repoLinks(page)).length === 1);
    same(await repoLinks(page), ['demo/beta'], 'matches for "bet"');
    same(await page.locator('#repo-count').textContent(), '1 of 3 repositories match “bet”', 'count');
    await page.screenshot({ path: `${artifacts}/ui-search.png` });
    await page.getByRole('searchbox', { name: 'Search repositories' }).fill('');
    await until('all three again', async () => (await repoLinks(page)).length === 3);
  });
  await step('a repository lists its tags with size and age', async () => {
    await page.getByRole('link', { name: 'demo/alpha' }).click();
    await page.getByRole('heading', { level: 1, name: 'demo/alpha' }).waitFor();
    await until('tag rows', async () => (await tagRows(page)).length === 2);
    same(await tagRows(page), ['1.0', 'latest'], 'tags');
    const row = page.locator('tr[data-tag="1.0"]');
    await until('the size of 1.0', async () => (await row.locator('td.num').textContent()) === '4.5 kB');
    await until('the age of 1.0', async () => (await row.locator('time').textContent()) === '3 days ago');
    same(await row.locator('td').nth(1).textContent(), 'linux/amd64', 'platform');
    await page.screenshot({ path: `${artifacts}/ui-tags.png`, fullPage: true });
  });
  await step('copy the pull command', async () => {
    await page.getByRole('button', { name: 'Copy pull command for 1.0' }).click();
    await until('the copied message', async () =>
      (await page.locator('#status').textContent()) === `Copied: docker pull ${host}/demo/alpha:1.0`);
  });
  await step('a tag shows its layers, config, annotations and referrers', async () => {
    await page.getByRole('link', { name: '1.0', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'demo/alpha:1.0' }).waitFor();
    const layers = page.getByRole('table', { name: 'Layers' });
    await layers.waitFor();
    same(await layers.locator('tbody td.num:last-child').allTextContents(), ['1.5 kB', '3.0 kB'], 'layer sizes');
    same(await layers.locator('tfoot td').textContent(), '4.5 kB', 'total');
    await page.getByText('PATH=/usr/bin:/bin').waitFor();
    await page.getByRole('table', { name: 'Annotations' }).getByText('org.opencontainers.image.title').waitFor();
    const refs = page.getByRole('table', { name: 'Referrers' });
    same(await refs.locator('tbody th').allTextContents(), ['application/spdx+json'], 'referrers');
    const cmds = await page.locator('.command-text').allTextContents();
    same(cmds[0], `docker pull ${host}/demo/alpha:1.0`, 'pull by tag');
    if (!/^docker pull \S+\/demo\/alpha@sha256:[0-9a-f]{64}$/.test(cmds[1])) throw new Error(`pull by digest: ${cmds[1]}`);
    await page.screenshot({ path: `${artifacts}/ui.png`, fullPage: true });
  });
  await step('a referrer opens as a manifest with its subject', async () => {
    await page.getByRole('table', { name: 'Referrers' }).getByRole('link').click();
    await page.locator('dd').getByText('application/spdx+json').waitFor();
    await page.locator('dt', { hasText: 'Subject' }).waitFor();
  });
  await step('an index shows its platforms, each a link to its image', async () => {
    await page.goto(`${base}/ui/#/repo/demo/multi/tag/1`);
    const table = page.getByRole('table', { name: 'Platforms' });
    await table.waitFor();
    same(await table.locator('tbody th').allTextContents(), ['linux/amd64', 'linux/arm64/v8'], 'platforms');
    await table.getByRole('link', { name: 'linux/arm64/v8' }).click();
    await page.getByRole('table', { name: 'Layers' }).waitFor();
    same(await page.getByRole('table', { name: 'Layers' }).locator('tfoot td').textContent(), '900 B', 'arm64 size');
  });
  await step('deleting a tag asks first, then the tag is gone', async () => {
    await page.goto(`${base}/ui/#/repo/demo/alpha`);
    await until('tag rows', async () => (await tagRows(page)).length === 2);
    await page.getByRole('button', { name: 'Delete tag latest' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete tag?' });
    await confirm.waitFor({ state: 'visible' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    same(await tagRows(page), ['1.0', 'latest'], 'tags after Cancel');
    await page.getByRole('button', { name: 'Delete tag latest' }).click();
    await confirm.getByRole('button', { name: 'Delete tag' }).click();
    await until('the row to go', async () => (await tagRows(page)).length === 1);
    same(await tagRows(page), ['1.0'], 'tags on the page');
    same(await apiTags('demo/alpha', alice), ['1.0'], 'tags in the registry');
  });
  await step('a reload keeps the session and the tag stays gone', async () => {
    await page.reload();
    await until('tag rows', async () => (await tagRows(page)).length === 1);
    same(await page.getByRole('dialog', { name: 'Sign in to the registry' }).isVisible(), false, 'login form shown');
  });
}

async function tokenSteps(page) {
  await step('an anonymous token is not enough: the login form appears', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByRole('dialog', { name: 'Sign in to the registry' }).waitFor({ state: 'visible' });
  });
  await step('a read-only account signs in with a token and lists repositories', async () => {
    await signIn(page, viewer);
    await until('repositories', async () => (await repoLinks(page)).length === 3);
  });
  await step('its delete is refused and the 403 is shown', async () => {
    await page.getByRole('link', { name: 'demo/beta' }).click();
    await until('tag rows', async () => (await tagRows(page)).length === 1);
    await page.getByRole('button', { name: 'Delete tag v2' }).click();
    await page.getByRole('dialog', { name: 'Delete tag?' }).getByRole('button', { name: 'Delete tag' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.textContent();
    if (!/403/.test(text) || !/DENIED/.test(text)) throw new Error(`alert says: ${text}`);
    same(await tagRows(page), ['v2'], 'tags after the refusal');
  });
  await step('sign out, then an account that may delete does', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, alice);
    await until('tag rows', async () => (await tagRows(page)).length === 1);
    await page.getByRole('button', { name: 'Delete tag v2' }).click();
    await page.getByRole('dialog', { name: 'Delete tag?' }).getByRole('button', { name: 'Delete tag' }).click();
    await until('the row to go', async () => (await tagRows(page)).length === 0);
    await page.getByText('No tags in this repository.').waitFor();
    same(await apiTags('demo/beta', alice), [], 'tags in the registry');
    await page.screenshot({ path: `${artifacts}/ui-token.png`, fullPage: true });
  });
}

mkdirSync(artifacts, { recursive: true });
const context = await chromium.launchPersistentContext(process.env.PROFILE_DIR, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1200, height: 800 },
  timeout: 30000,
});
context.setDefaultTimeout(10000);
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
const page = context.pages()[0] || await context.newPage();
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  // a 401 or 403 from the API is logged by Chromium itself: expected here
  if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[13]/.test(m.text()))
    problems.push(`console: ${m.text()}`);
});

try {
  await (mode === 'token' ? tokenSteps(page) : basicSteps(page));
  await step('no script errors and no content security policy violations', async () => {
    if (problems.length) throw new Error(problems.join('; '));
  });
} catch {
  await page.screenshot({ path: `${artifacts}/ui-failure-${mode}.png`, fullPage: true }).catch(() => {});
  if (problems.length) console.log(`# browser said: ${problems.join('; ')}`);
} finally {
  await context.close();
}
console.log(`ui-${mode}: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
