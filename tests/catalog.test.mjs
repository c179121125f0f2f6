// The public integration catalog through the built Worker: filters, search,
// pagination, detail pages, categories, caching and parameter errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { expectProblem } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';

let worker;
before(async () => {
  worker = await startWorker({ vars: workerVars(newIssuer()) });
});
after(() => worker?.stop());

const getJson = async (path, init) => {
  const res = await worker.fetch(path, init);
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return { res, body: await res.json() };
};

describe('GET /api/v1/integrations', () => {
  test('lists summaries with pagination totals and no auth', async () => {
    const { body } = await getJson('/api/v1/integrations');
    assert.ok(body.pagination.total >= 100, `total ${body.pagination.total}`);
    assert.equal(body.data.length, 50);
    assert.equal(body.pagination.total_pages, Math.ceil(body.pagination.total / 50));
    const first = body.data[0];
    for (const field of ['id', 'name', 'category', 'summary', 'auth_type', 'status', 'capabilities', 'scopes']) {
      assert.ok(field in first, `summary lacks ${field}`);
    }
    assert.ok(!('setup_guide' in first) && !('faq' in first), 'summaries must not carry the guide or FAQ');
  });

  test('pages cover every entry once, in a stable order', async () => {
    const { body: all } = await getJson('/api/v1/integrations?per_page=200');
    const ids = [];
    for (let page = 1; page <= Math.ceil(all.pagination.total / 30); page++) {
      const { body } = await getJson(`/api/v1/integrations?per_page=30&page=${page}`);
      ids.push(...body.data.map((e) => e.id));
    }
    assert.deepEqual(ids, all.data.map((e) => e.id));
    assert.equal(new Set(ids).size, ids.length);
  });

  test('filters narrow the list and repeat as "any of"', async () => {
    const { body } = await getJson('/api/v1/integrations?category=solar_battery&category=ev_charging&auth_type=api_key');
    assert.ok(body.data.length > 0);
    for (const e of body.data) {
      assert.ok(['solar_battery', 'ev_charging'].includes(e.category), e.id);
      assert.equal(e.auth_type, 'api_key');
    }
    const { body: scope1 } = await getJson('/api/v1/integrations?scope=1&data_type=fuel&per_page=200');
    for (const e of scope1.data) {
      assert.ok(e.scopes.includes(1) && e.data_types.includes('fuel'), e.id);
    }
  });

  test('search is case-insensitive and ranks name matches first', async () => {
    const { body } = await getJson('/api/v1/integrations?q=OCTOPUS');
    assert.equal(body.data[0].id, 'octopus-energy');
    const { body: xero } = await getJson('/api/v1/integrations?q=xero');
    assert.equal(xero.data[0].name, 'Xero');
    const { body: none } = await getJson('/api/v1/integrations?q=definitely-not-a-provider');
    assert.equal(none.pagination.total, 0);
    assert.deepEqual(none.data, []);
  });

  test('status is honest: nothing is available before its connector and sync exist', async () => {
    const { body } = await getJson('/api/v1/integrations?per_page=200');
    for (const e of body.data) {
      if (e.status === 'available') {
        assert.ok(e.capabilities.connect && e.capabilities.sync, `${e.id} claims available`);
      }
    }
  });

  test('invalid filter values are 400 naming the parameter', async () => {
    for (const [query, field] of [
      ['category=energy', 'category'],
      ['scope=4', 'scope'],
      ['per_page=500', 'per_page'],
      ['page=0', 'page'],
      ['status=live', 'status'],
      ['sort=name', 'sort'],
    ]) {
      const body = await expectProblem(assert, await worker.fetch(`/api/v1/integrations?${query}`), 400);
      assert.equal(body.field, field, query);
      assert.match(body.detail, new RegExp(field));
    }
  });

  test('ETag and If-None-Match give 304, and different queries differ', async () => {
    const { res } = await getJson('/api/v1/integrations?category=cloud');
    const etag = res.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    assert.match(res.headers.get('cache-control'), /max-age=\d+/);
    const again = await worker.fetch('/api/v1/integrations?category=cloud', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    assert.equal(again.headers.get('etag'), etag);
    const other = await worker.fetch('/api/v1/integrations?category=retail');
    assert.notEqual(other.headers.get('etag'), etag);
    const stale = await worker.fetch('/api/v1/integrations?category=cloud', { headers: { 'if-none-match': '"0000000000000000"' } });
    assert.equal(stale.status, 200);
  });
});

describe('GET /api/v1/integrations/{id}', () => {
  test('returns the whole entry with guide, FAQ and credential fields', async () => {
    const { body } = await getJson('/api/v1/integrations/octopus-energy');
    assert.equal(body.name, 'Octopus Energy');
    assert.equal(body.auth_type, 'api_key');
    assert.ok(body.setup_guide.length >= 2);
    assert.ok(body.faq.length >= 1);
    const key = body.credential_fields.find((f) => f.name === 'api_key');
    assert.equal(key.secret, true);
    assert.ok(new RegExp(key.pattern).test('sk_live_abcdefghijklmnopqrstu'));
    assert.equal(body.api_docs, 'https://developer.octopus.energy/rest/');
  });

  test('OAuth entries describe their authorization server', async () => {
    const { body } = await getJson('/api/v1/integrations/xero');
    assert.equal(body.oauth.authorize_url, 'https://login.xero.com/identity/connect/authorize');
    assert.equal(body.oauth.pkce, true);
    assert.ok(body.oauth.scopes.includes('offline_access'));
  });

  test('unknown id is a 404 problem', async () => {
    const body = await expectProblem(assert, await worker.fetch('/api/v1/integrations/no-such-thing'), 404);
    assert.match(body.detail, /no-such-thing/);
  });
});

describe('GET /api/v1/integrations/categories', () => {
  test('lists every category with counts that add up to the catalog', async () => {
    const { body } = await getJson('/api/v1/integrations/categories');
    const { body: all } = await getJson('/api/v1/integrations?per_page=1');
    assert.equal(body.data.reduce((n, c) => n + c.count, 0), all.pagination.total);
    const energy = body.data.find((c) => c.id === 'energy_supplier');
    const { body: filtered } = await getJson('/api/v1/integrations?category=energy_supplier&per_page=1');
    assert.equal(energy.count, filtered.pagination.total);
    assert.ok(body.data.every((c) => c.count > 0 && typeof c.name === 'string'));
  });
});
