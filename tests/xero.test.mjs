// Xero through the built Worker: spend from every organisation a grant
// covers (bank SPEND transactions and ACCPAY bills, tax-exclusive, per
// account), paged 100 documents at a time; the next sync asks only for
// what changed (If-Modified-Since) and restates edits and voids; a 429 with
// Retry-After is waited out; and the per-organisation limit is never
// passed. The fake speaks Xero's documented shapes (tests/fakes/xero.mjs).

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { userClient } from './helpers/http.mjs';
import { connectOAuth } from './helpers/oauth.mjs';
import { startWorker } from './helpers/worker.mjs';
import { xero } from './fakes/xero.mjs';

const issuer = newIssuer();
const DAY = 86400_000;
const USER = 'user_xero';
// Windows long enough that the Worker's margin before a window's end (a
// tenth of it) outlasts a call's trip on a loaded machine.
const LIMIT = { calls: 5, seconds: 5 };
let worker, xr, id;
const api = userClient(() => worker, issuer);
const T1 = '70784a63-d24b-46a9-a4db-0e70a274b056';
const T2 = '3f1a0b7e-5c1d-4d0e-9a55-2b9c1d0e7f21';
const WEBHOOK_KEY = 'xero-webhook-key-for-tests';

before(async () => {
  xr = await xero({ clientId: 'xero-client', clientSecret: 'xero-secret' });
  worker = await startWorker({ vars: workerVars(issuer, { ...xr.vars, XERO_TENANT_RATE_LIMITS: `${LIMIT.calls}/${LIMIT.seconds}`, XERO_WEBHOOK_KEY: WEBHOOK_KEY }) });
});
after(async () => {
  await worker?.stop();
  await xr?.close();
});

const wcf = (ms) => `/Date(${ms}+0000)/`;
const day = (ms) => `${new Date(ms).toISOString().slice(0, 10)}T00:00:00`;
const today = Math.floor(Date.now() / DAY) * DAY;
// Modification times a whole number of seconds apart, none on a second's
// edge: `If-Modified-Since` is to the second, so which documents a page
// boundary reads again must not depend on the clock's milliseconds.
const BASE = Math.floor(Date.now() / 1000) * 1000 + 500;
const round2 = (x) => Math.round(x * 100) / 100;

/** A document as Xero serialises it, modified `ageDays` ago. */
function doc(kind, n, { type, status = 'AUTHORISED', inclusive = false, lines, ageDays = 15, currency = 'GBP' }) {
  const date = today - ((n * 7) % 300) * DAY;
  const idField = kind === 'bank' ? 'BankTransactionID' : 'InvoiceID';
  return {
    [idField]: `${kind}-${n}`, Type: type, Status: status, Reference: `ref ${n}`,
    ...(kind === 'bills' ? { InvoiceNumber: `BILL-${n}`, DueDate: wcf(date + 30 * DAY) } : {}),
    DateString: day(date), Date: wcf(date), LineAmountTypes: inclusive ? 'Inclusive' : 'Exclusive',
    LineItems: lines.map(([code, amount, tax]) => ({ Description: `line ${code}`, Quantity: 1, UnitAmount: amount, AccountCode: code, TaxType: 'INPUT2', TaxAmount: tax, LineAmount: amount })),
    CurrencyCode: currency, CurrencyRate: 1, UpdatedDateUTC: wcf(BASE - ageDays * DAY - n * 1000),
  };
}

function books(tenant, nBank, nBills) {
  const bank = [];
  for (let n = 0; n < nBank; n++) {
    const inclusive = n % 3 === 0;
    const amount = 100 + n;
    bank.push(doc('bank', n, {
      type: n % 10 === 9 ? 'RECEIVE' : 'SPEND', inclusive,
      lines: [['445', amount, inclusive ? round2(amount / 6) : round2(amount * 0.2)], ...(n % 4 === 0 ? [['449', 12.5, 2.5], ['445', 10, 2]] : [])],
    }));
  }
  const invoices = [];
  for (let n = 0; n < nBills; n++) {
    const status = ['AUTHORISED', 'PAID', 'DRAFT', 'VOIDED', 'SUBMITTED', 'PAID'][n % 6];
    invoices.push(doc('bills', n, { type: n % 7 === 6 ? 'ACCREC' : 'ACCPAY', status, lines: [['449', 40 + n, 8]], currency: n % 5 === 4 ? 'EUR' : 'GBP' }));
  }
  const accounts = [
    { AccountID: 'a-445', Code: '445', Name: 'Light, Power, Heating', Type: 'OVERHEADS', Class: 'EXPENSE', Status: 'ACTIVE' },
    { AccountID: 'a-449', Code: '449', Name: 'Motor Vehicle Expenses', Type: 'OVERHEADS', Class: 'EXPENSE', Status: 'ACTIVE' },
  ];
  xr.control.books[tenant] = { accounts, bank, invoices };
}

/** What the books should come to: one value per (document, account). */
function expected() {
  const out = new Map();
  for (const [tenant, b] of Object.entries(xr.control.books)) {
    for (const [feed, list, idField, type] of [['bank', b.bank, 'BankTransactionID', 'SPEND'], ['bills', b.invoices, 'InvoiceID', 'ACCPAY']]) {
      for (const d of list) {
        if (d.Type !== type || ['DRAFT', 'SUBMITTED'].includes(d.Status)) continue;
        for (const l of d.LineItems) {
          const key = `xero:${tenant}:${feed}:${d[idField]}|${l.AccountCode}|${d.CurrencyCode}`;
          const net = d.LineAmountTypes === 'Inclusive' ? l.LineAmount - l.TaxAmount : l.LineAmount;
          out.set(key, (out.get(key) ?? 0) + (['VOIDED', 'DELETED'].includes(d.Status) ? 0 : net));
        }
      }
    }
  }
  return out;
}

async function values() {
  const out = new Map();
  const from = new Date(today - 400 * DAY).toISOString().slice(0, 10);
  const to = new Date(today + 2 * DAY).toISOString().slice(0, 10);
  for (let page = 1; ; page++) {
    const res = await api(USER, 'GET', `/api/v1/activity?datasource_id=${id}&from=${from}&to=${to}&per_page=1000&page=${page}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const v of res.body.data) {
      assert.equal(v.activity_type, 'spend');
      out.set(`${v.reference}|${v.detail}|${v.unit}`, v);
    }
    if (page * 1000 >= res.body.pagination.total) return out;
  }
}

async function settle(runId, ms = 60_000) {
  let run;
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    run = await api(USER, 'GET', `/api/v1/datasources/${id}/sync-runs/${runId}`);
    if (['succeeded', 'partial', 'failed'].includes(run.body.status)) return run.body;
  }
  assert.fail(`the run did not finish: ${worker.logs().split('\n').filter((l) => /DEBUG|rror/.test(l)).slice(-8).join('\n')} ${JSON.stringify(run?.body)}; served ${JSON.stringify(xr.control.served.slice(-5))}`);
}

function assertTotals() {
  return values().then((got) => {
    const want = expected();
    assert.equal(got.size, want.size, 'one value per document and account');
    for (const [key, q] of want) {
      assert.ok(got.has(key), `missing ${key}`);
      assert.ok(Math.abs(got.get(key).quantity - q) < 0.005, `${key}: ${got.get(key).quantity} vs ${q}`);
    }
    return got;
  });
}

test('a full sync reads every organisation, every page, within the per-organisation limit', async () => {
  xr.control.tenants.push({ id: 'c2', authEventId: 'ae2', tenantId: T2, tenantType: 'ORGANISATION', tenantName: 'Maple Holdings Ltd', createdDateUtc: '2021-01-01T00:00:00.0000000', updatedDateUtc: '2021-01-01T00:00:00.0000000' });
  books(T1, 230, 330);
  books(T2, 12, 7);
  id = await connectOAuth(worker, api, USER, 'xero');
  const ds = (await api(USER, 'GET', `/api/v1/datasources/${id}`)).body;
  assert.deepEqual(ds.provider.tenants.map((t) => t.tenant_id).sort(), [T1, T2].sort());
  xr.control.tenantLimit = LIMIT;
  xr.control.served.length = 0;

  const started = await api(USER, 'POST', `/api/v1/datasources/${id}/sync`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const run = await settle(started.body.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.equal(xr.control.rejected, 0, `the organisation limit was never passed: ${JSON.stringify(xr.control.windows)}`);
  // 207 SPEND transactions, 100 a page, each page asking for changes since
  // the last one read (the document at that second is read again).
  const bank = xr.control.served.filter((s) => s.tenant === T1 && s.list === 'BankTransactions');
  assert.deepEqual(bank.map((s) => s.rows), [100, 100, 9], JSON.stringify(bank));
  assert.ok(bank.every((s, i) => s.page === 1 && (i === 0 || s.since > bank[i - 1].since)), JSON.stringify(bank));
  assert.ok(xr.control.served.every((s) => s.list === 'Accounts' || s.since), 'every data request carries If-Modified-Since');

  const got = await assertTotals();
  const sample = [...got.values()].find((v) => v.reference.includes(':bills:') && v.detail === '449');
  assert.equal(sample.conversion.account_name, 'Motor Vehicle Expenses');

  // Spend-based Scope 3, typed apart from factors/spend.toml: 449 Motor
  // Vehicle Expenses is USEEIO 811111 (0.103 kg CO2e per 2022 USD); spend
  // after 2023 takes the latest rates held (Federal Reserve 2023: GBP
  // 1.2440, EUR 1.0817 USD) and the latest CPI-U held, 2024 (292.655 /
  // 313.689); 445 Light, Power, Heating is energy, metered elsewhere: no line.
  const RATE = { GBP: 1.244, EUR: 1.0817 };
  const spend = [...got.values()].filter((v) => v.detail === '449');
  assert.ok(spend.every((v) => new Date(v.period_start).getUTCFullYear() >= 2024 && RATE[v.unit]));
  const want = spend.reduce((s, v) => s + v.quantity * RATE[v.unit] * (292.655 / 313.689) * 0.103, 0);
  const t = (await api(USER, 'GET', `/api/v1/emissions/summary?datasource_id=${id}&from=2024-01-01&to=${new Date(Date.now() + 2 * DAY).toISOString().slice(0, 10)}`)).body.totals;
  assert.ok(Math.abs(t.scope_3_spend_based - want) <= want * 1e-9, `${t.scope_3_spend_based} vs ${want}`);
  assert.equal(t.scope_3, t.scope_3_spend_based, 'all of it spend-based');
  const lines = (await api(USER, 'GET', `/api/v1/emissions?datasource_id=${id}&from=2024-01-01&per_page=5`)).body;
  assert.ok(lines.data.every((l) => l.method === 'spend_based' && l.edition_choice === 'latest_held' && /811111/.test(l.factor_ref)), JSON.stringify(lines.data[0]));
  const view = (await api(USER, 'GET', `/api/v1/datasources/${id}`)).body;
  assert.equal(view.streams.length, 4, 'bank and bills for each organisation');
  const catalog = await (await worker.fetch('/api/v1/integrations/xero')).json();
  assert.equal(catalog.status, 'available');
});

test('the next sync asks only for what changed: edits and voids are restated, nothing is duplicated', async () => {
  const b = xr.control.books[T1];
  const now = Date.now();
  const edited = b.bank.find((d) => d.Type === 'SPEND' && d.LineAmountTypes === 'Exclusive');
  edited.LineItems[0].LineAmount += 50;
  edited.UpdatedDateUTC = wcf(now);
  const voided = b.invoices.find((d) => d.Type === 'ACCPAY' && d.Status === 'AUTHORISED');
  voided.Status = 'VOIDED';
  voided.UpdatedDateUTC = wcf(now);
  b.bank.push(doc('bank', 999, { type: 'SPEND', lines: [['445', 77.7, 15.54]], ageDays: 0 }));
  xr.control.served.length = 0;

  const started = await api(USER, 'POST', `/api/v1/datasources/${id}/sync`);
  const run = await settle(started.body.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  const rows = xr.control.served.filter((s) => s.list !== 'Accounts').reduce((n, s) => n + s.rows, 0);
  assert.equal(rows, 3, `only the three changed documents were sent: ${JSON.stringify(xr.control.served)}`);
  assert.equal(run.inserted, 1, JSON.stringify(run));
  assert.equal(run.updated, 2, "the edit and the void");
  const got = await assertTotals();
  const v = got.get(`xero:${T1}:bills:${voided.InvoiceID}|449|${voided.CurrencyCode}`);
  assert.equal(v.quantity, 0);
  assert.ok(v.restated_at, 'a void restates the bill to zero, keeping what it was');
});

test('a 429 with Retry-After is waited out without failing the run', async () => {
  xr.control.throttleNext = { retryAfter: 2, problem: 'minute' };
  const rejected = xr.control.rejected;
  const t0 = Date.now();
  const started = await api(USER, 'POST', `/api/v1/datasources/${id}/sync`);
  const run = await settle(started.body.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.equal(run.attempts, 0, 'waiting as asked is not a failure');
  assert.equal(xr.control.rejected, rejected + 1);
  assert.ok(Date.now() - t0 >= 2000, 'it waited for Retry-After');
});

test('a signed Xero invoice event queues an incremental sync of that organisation\'s datasource, once', async () => {
  const runsBefore = (await api(USER, 'GET', `/api/v1/datasources/${id}/sync-runs`)).body.pagination.total;
  const body = JSON.stringify({
    events: [{ resourceUrl: `https://api.xero.com/api.xro/2.0/Invoices/bills-3`, resourceId: 'bills-3', tenantId: T2, tenantType: 'ORGANISATION', eventCategory: 'INVOICE', eventType: 'UPDATE', eventDateUtc: new Date().toISOString().slice(0, 23) }],
    firstEventSequence: 101, lastEventSequence: 101, entropy: 'QWERTYUIOPASDFGHJKLZ',
  });
  const signature = createHmac('sha256', WEBHOOK_KEY).update(body).digest('base64');
  const send = () => worker.fetch('/api/v1/webhooks/xero', { method: 'POST', headers: { 'content-type': 'application/json', 'x-xero-signature': signature }, body });
  const res = await send();
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '', 'Xero expects an empty body');
  const runs = (await api(USER, 'GET', `/api/v1/datasources/${id}/sync-runs`)).body;
  assert.equal(runs.pagination.total, runsBefore + 1);
  const run = runs.data[0];
  assert.deepEqual([run.trigger, run.mode], ['webhook', 'incremental']);
  assert.equal((await settle(run.id)).status, 'succeeded');
  // Xero retries a delivery it did not see acknowledged: the same batch again is acknowledged, not run again.
  assert.equal((await send()).status, 200);
  assert.equal((await api(USER, 'GET', `/api/v1/datasources/${id}/sync-runs`)).body.pagination.total, runsBefore + 1);
  const deliveries = (await api(USER, 'GET', `/api/v1/datasources/${id}/webhook-deliveries`)).body;
  assert.equal(deliveries.data.length, 0, 'an app-wide delivery is not any one user\'s record');
  // Signed with another key: 401, nothing queued.
  const forged = await worker.fetch('/api/v1/webhooks/xero', { method: 'POST', headers: { 'content-type': 'application/json', 'x-xero-signature': createHmac('sha256', 'not-the-key').update(body).digest('base64') }, body });
  assert.equal(forged.status, 401);
  assert.equal((await api(USER, 'GET', `/api/v1/datasources/${id}/sync-runs`)).body.pagination.total, runsBefore + 1);
});
