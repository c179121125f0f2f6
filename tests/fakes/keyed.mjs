// Fakes of the key-authenticated providers, in their documented formats
// (../shared/PROVIDERS.md and each provider's API reference).

import { anthropicUsage, openaiUsage } from './ai_usage.mjs';
import { basic, json, listen } from './server.mjs';

/**
 * Octopus Energy REST: HTTP Basic with the API key as user name and an
 * empty password; GET /v1/accounts/{number}/ returns the account.
 * Errors are Django REST framework bodies ({"detail": ...}).
 */
export async function octopus({ accounts }) {
  const fake = await listen(async (req, res) => {
    const creds = basic(req.headers.authorization);
    const point = /^\/v1\/electricity-meter-points\/(\d+)\/$/.exec(req.path);
    if (point) return json(res, 200, { gsp: fake.gsp, mpan: point[1], profile_class: 1, consumption_standard: 2700 });
    const consumption = /^\/v1\/(electricity|gas)-meter-points\/(\d+)\/meters\/([^/]+)\/consumption\/$/.exec(req.path);
    if (consumption) {
      if (!creds || !Object.values(accounts).some((a) => a.key === creds[0])) return json(res, 401, { detail: 'Invalid API key.' });
      if (fake.throttleConsumption > 0) {
        fake.throttleConsumption -= 1;
        return json(res, 429, { detail: 'Request was throttled.' }, { 'retry-after': '1' });
      }
      if (fake.failPage === fake.consumptionCalls++) return json(res, 500, { detail: 'Server error.' });
      return consumptionPage(res, fake.series[`${consumption[1]}:${consumption[2]}`] ?? [], req.query, consumption[0], fake.pageCap);
    }
    const m = /^\/v1\/accounts\/([^/]+)\/$/.exec(req.path);
    if (!m) return json(res, 404, { detail: 'Not found.' });
    // Hostile or broken behaviours a test can switch on.
    // A delay in ms, or a promise: held until the test settles it.
    const delay = creds && fake.delayFor[creds[0]];
    if (delay) await (typeof delay === 'number' ? new Promise((r) => setTimeout(r, delay)) : delay);
    if (fake.mode === 'redirect') return res.writeHead(307, { location: `${fake.redirectTo}${req.path}` }).end();
    if (fake.mode === 'huge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 24; i++) res.write(chunk);
      return res.end('{}');
    }
    if (fake.mode === 'stall') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.write('{"number":'); // and nothing more
    }
    if (fake.mode === 'hostile-error') {
      return json(res, 401, { detail: `<script>alert(1)</script>\u001b[2J Invalid API key. ${'x'.repeat(5000)}` });
    }
    const account = accounts[m[1]];
    const known = creds && creds[1] === '' && !fake.revoked.has(creds[0]) && Object.values(accounts).some((a) => a.key === creds[0]);
    if (!known) {
      return json(res, 401, { detail: 'Invalid API key.' });
    }
    if (fake.throttle) {
      res.writeHead(403, { 'content-type': 'text/html' }).end('<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD></HTML>');
      return;
    }
    if (!account || account.key !== creds[0]) return json(res, 404, { detail: 'Not found.' });
    return json(res, 200, {
      number: m[1],
      properties: [
        {
          id: 1234567,
          moved_in_at: '2021-04-01T00:00:00+01:00',
          moved_out_at: null,
          address_line_1: '1 Example Street',
          postcode: 'AB1 2CD',
          electricity_meter_points: [
            {
              mpan: account.mpan,
              profile_class: 1,
              consumption_standard: 2700,
              meters: [{ serial_number: '21L1234567', registers: [] }],
              agreements: [{ tariff_code: 'E-1R-AGILE-24-10-01-C', valid_from: '2024-10-01T00:00:00+01:00', valid_to: null }],
              is_export: false,
            },
          ],
          gas_meter_points: [{ mprn: '1234567890', consumption_standard: 11500, meters: [{ serial_number: 'E6S12345678901' }], agreements: [] }],
        },
      ],
    });
  });
  fake.revoked = new Set();
  fake.delayFor = {};
  fake.mode = 'ok';
  // Consumption: series keyed `electricity:<mpan>` / `gas:<mprn>`, each a
  // list of [interval start ms (UTC), value]; pages of at most `pageCap`.
  fake.series = {};
  fake.pageCap = 25000;
  fake.gsp = '_H';
  fake.throttleConsumption = 0;
  fake.failPage = -1;
  fake.consumptionCalls = 0;
  return fake;
}

/** UK local time with its offset, as Octopus writes interval times. */
export function ukTime(ms) {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const lastSunday = (month) => {
    const last = new Date(Date.UTC(y, month + 1, 0));
    return Date.UTC(y, month, last.getUTCDate() - last.getUTCDay(), 1);
  };
  const bst = ms >= lastSunday(2) && ms < lastSunday(9);
  const local = new Date(ms + (bst ? 3600_000 : 0)).toISOString().slice(0, 19);
  return `${local}${bst ? '+01:00' : 'Z'}`;
}

function consumptionPage(res, series, query, path, pageCap) {
  const from = Date.parse(query.period_from);
  const to = Date.parse(query.period_to);
  const size = Math.min(Number(query.page_size ?? 100), 25000, pageCap);
  const rows = series.filter(([t]) => t >= from && t < to);
  if (query.order_by !== 'period') rows.reverse();
  const page = rows.slice(0, size);
  const next = rows.length > size ? `https://next.invalid${path}?page=2` : null;
  return json(res, 200, {
    count: rows.length,
    next,
    previous: null,
    results: page.map(([t, v]) => ({ consumption: v, interval_start: ukTime(t), interval_end: ukTime(t + 1800_000) })),
  });
}

/** OpenAI Admin API: Bearer admin key; errors {"error": {"message", "type", "code"}}. */
export async function openai({ adminKeys }) {
  const fake = await listen((req, res) => {
    const key = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (req.path.startsWith('/v1/organization/') && req.path !== '/v1/organization/projects' && !adminKeys.includes(key)) {
      return json(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
    if (openaiUsage(fake, req, res, json)) return;
    if (req.path !== '/v1/organization/projects') return json(res, 404, { error: { message: 'Not found', type: 'invalid_request_error' } });
    if (adminKeys.includes(key)) {
      return json(res, 200, { object: 'list', data: [{ id: 'proj_abc', object: 'organization.project', name: 'Default project', status: 'active' }], first_id: 'proj_abc', last_id: 'proj_abc', has_more: false });
    }
    return json(res, 401, {
      error: { message: `Incorrect API key provided: ${key.slice(0, 8)}***. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
    });
  });
  Object.assign(fake, { usage: {}, usageRequests: [], throttleUsage: 0 });
  return fake;
}

/** Anthropic Admin API: x-api-key and anthropic-version headers. */
export async function anthropic({ adminKeys }) {
  const fake = await listen((req, res) => {
    // `mode` lets a test make the provider overloaded or drop connections.
    if (fake.mode === 'overloaded') return json(res, 529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    if (fake.mode === 'reset') return res.socket.destroy();
    if (!req.headers['anthropic-version']) return json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
    if (!adminKeys.includes(req.headers['x-api-key'])) {
      return json(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    }
    if (anthropicUsage(fake, req, res, json)) return;
    return json(res, 200, { data: [{ id: 'wrkspc_01', type: 'workspace', name: 'Default' }], has_more: false, first_id: 'wrkspc_01', last_id: 'wrkspc_01' });
  });
  Object.assign(fake, { mode: 'ok', usage: {}, usageRequests: [], throttleUsage: 0 });
  return fake;
}
