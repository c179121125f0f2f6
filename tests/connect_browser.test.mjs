// The OAuth popup, end to end in a real browser: examples/connect.html (the
// typed client's browser bundle) in headless Chromium, the built Worker in
// workerd, and Xero's fake authorization server. Chromium is Debian's
// (/usr/bin/chromium, installed by `npm test` where it can be); without it
// this file fails, it does not skip.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { BUNDLE, bundle } from '../scripts/client.mjs';
import { CHROMIUM } from '../scripts/lib/browser.mjs';
import { ROOT } from '../scripts/lib/toolchain.mjs';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { xero } from './fakes/xero.mjs';

const issuer = newIssuer();
let worker, xr, site, browser, port;
const api = userClient(() => worker, issuer);

/** Serves the repository's examples/ and client/dist/ as a frontend would. */
function staticSite() {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://site.invalid');
    if (url.pathname === '/forge.html') {
      // A page on another origin posting what the callback page would post.
      const forged = JSON.stringify({ source: 'carbon-oauth', status: 'authorized', integration_id: 'xero', state: url.searchParams.get('state'), code: 'forged-code' });
      res.writeHead(200, { 'content-type': types['.html'] });
      return res.end(`<!doctype html><script>parent.postMessage(${forged}, '*'); (opener || parent).postMessage(${forged}, '*');</script>`);
    }
    const file = path.join(ROOT, path.normalize(url.pathname));
    if (!file.startsWith(path.join(ROOT, 'examples')) && !file.startsWith(path.join(ROOT, 'client', 'dist'))) {
      res.writeHead(404);
      return res.end();
    }
    if (!existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium); npm test does so when it runs as root`);
  }
  bundle();
  site = await staticSite();
  port = site.address().port;
  xr = await xero({ clientId: 'xero-client', clientSecret: 'xero-secret' });
  worker = await startWorker({
    vars: workerVars(issuer, {
      ...xr.vars,
      FRONTEND_ORIGIN: `http://127.0.0.1:${port}`,
      ALLOWED_ORIGINS: `http://127.0.0.1:${port},http://localhost:${port}`,
    }),
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  await xr?.close();
  await new Promise((r) => (site ? site.close(r) : r()));
});

async function openExample(user, origin = `http://127.0.0.1:${port}`) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const query = new URLSearchParams({ api: worker.url, token: issuer.token(user), integration: 'xero' });
  await page.goto(`${origin}/examples/connect.html?${query}`);
  await page.waitForSelector('#connect:has-text("Connect xero")');
  return { context, page };
}

const outcome = (page) => page.waitForSelector('#status[data-outcome]', { timeout: 30_000 }).then((el) => el.getAttribute('data-outcome'));

test('the popup opens, the provider consents, the callback closes it and the datasource appears', async () => {
  const { context, page } = await openExample('user_browser_1');
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#connect')]);
  assert.equal(await outcome(page), 'connected', await page.textContent('#status'));
  assert.match(await page.textContent('#status'), /^Connected: /);
  const shown = JSON.parse(await page.textContent('#result'));
  assert.equal(shown.integration_id, 'xero');
  if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 10_000 });
  assert.ok(popup.isClosed(), 'the callback page closes the popup');
  const list = await api('user_browser_1', 'GET', '/api/v1/datasources');
  assert.deepEqual(list.body.data.map((d) => d.id), [shown.id]);
  assert.equal(list.body.data[0].status, 'active');
  await context.close();
});

test('messages from other origins are ignored (even from the popup); the real one completes', async () => {
  const { context, page } = await openExample('user_browser_2');
  // Hold the popup at the provider until forged messages have been sent.
  let release;
  const held = new Promise((r) => (release = r));
  let state;
  await context.route(`${xr.base}/authorize**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.searchParams.has('real')) return route.continue();
    state = url.searchParams.get('state');
    await held;
    // Then a page on the provider's origin, in the popup itself, posts a
    // forged result to the opener before going on to the real consent.
    url.searchParams.set('real', '1');
    const forged = { source: 'carbon-oauth', status: 'authorized', integration_id: 'xero', state, code: 'forged-code' };
    await route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><script>opener.postMessage(${JSON.stringify(forged)}, '*'); setTimeout(() => location.replace(${JSON.stringify(url.href)}), 300);</script>`,
    });
  });
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#connect')]);
  while (!state) await new Promise((r) => setTimeout(r, 50));
  // From a frame on another origin, and from the page's own origin: both
  // carry the right state, neither comes from the API's callback page.
  await page.evaluate((src) => {
    const frame = document.createElement('iframe');
    frame.src = src;
    document.body.append(frame);
  }, `http://localhost:${port}/forge.html?state=${encodeURIComponent(state)}`);
  await page.evaluate((s) => window.postMessage({ source: 'carbon-oauth', status: 'authorized', state: s, code: 'forged-code' }, '*'), state);
  await page.waitForTimeout(500);
  assert.equal(await page.getAttribute('#status', 'data-outcome'), null, 'a forged message was taken');
  assert.equal((await api('user_browser_2', 'GET', '/api/v1/datasources')).body.data.length, 0);
  release();
  // Had the popup's forged message been taken, completing with its code
  // would have failed at the token exchange.
  assert.equal(await outcome(page), 'connected', await page.textContent('#status'));
  if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 10_000 });
  assert.equal((await api('user_browser_2', 'GET', '/api/v1/datasources')).body.data.length, 1);
  await context.close();
});

test('a message delivered after the popup already reads closed still completes', async () => {
  // The callback page posts, then closes itself. The opener (the same site,
  // so the same event loop here) is held by the callback page long past the
  // watch's interval: when it runs again, a due timer that sees the popup
  // closed and the message race. The message must win.
  const { context, page } = await openExample('user_browser_4');
  // The provider's redirect to the callback as a navigation of its own
  // (a route sees only the first request of a redirect chain).
  await context.route(`${xr.base}/authorize**`, async (route) => {
    const consent = await route.fetch({ maxRedirects: 0 });
    const to = JSON.stringify(consent.headers().location);
    await route.fulfill({ contentType: 'text/html', body: `<!doctype html><script>location.replace(${to});</script>` });
  });
  await context.route(`${worker.url}/api/v1/oauth/**`, async (route) => {
    const response = await route.fetch();
    const body = await response.text();
    const nonce = /<script nonce="([^"]+)">/.exec(body)[1];
    const busy = `<script nonce="${nonce}">for (const end = Date.now() + 1200; Date.now() < end; );</script>`;
    await route.fulfill({ response, body: body.replace(`<script nonce="${nonce}">`, `${busy}<script nonce="${nonce}">`) });
  });
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#connect')]);
  assert.equal(await outcome(page), 'connected', await page.textContent('#status'));
  if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 10_000 });
  assert.equal((await api('user_browser_4', 'GET', '/api/v1/datasources')).body.data.length, 1);
  await context.close();
});

test('the callback page posts only to the configured frontend origin', async () => {
  // The same page served from an origin the API allows for calls (CORS) but
  // that is not FRONTEND_ORIGIN: the browser does not deliver the callback's
  // message, so nothing is completed and the page reports the closed popup.
  const { context, page } = await openExample('user_browser_3', `http://localhost:${port}`);
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#connect')]);
  assert.equal(await outcome(page), 'error');
  assert.match(await page.textContent('#status'), /popup was closed before the provider answered/);
  assert.ok(popup.isClosed());
  assert.equal((await api('user_browser_3', 'GET', '/api/v1/datasources')).body.data.length, 0);
  await context.close();
});
