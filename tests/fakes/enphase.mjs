// A fake Enphase v4 in its documented shape: the token endpoint takes the
// grant in the QUERY STRING with HTTP Basic client auth and an empty body,
// answers lowercase `bearer`, and rotates single-use refresh tokens.

import { randomUUID } from 'node:crypto';
import { basic, json, listen } from './server.mjs';

export async function enphase({ clientId, clientSecret, apiKey }) {
  const codes = new Map(); // code -> redirect_uri
  const liveRefresh = new Set();
  const liveAccess = new Set();
  const state = { refreshGrants: 0 };
  // Each grant covers its own system; a refresh keeps the grant's.
  const systemOf = new Map();
  let grants = 0;
  const issue = (res, system = 698905955 + grants++) => {
    const access = randomUUID();
    const refresh = randomUUID();
    liveAccess.add(access);
    liveRefresh.add(refresh);
    systemOf.set(access, system);
    systemOf.set(refresh, system);
    json(res, 200, {
      access_token: access, token_type: 'bearer', refresh_token: refresh, expires_in: 86393, scope: 'read write',
      enl_uid: '123456', enl_cid: '654321', enl_password_last_changed: '1680000000', is_internal_app: false, app_type: 'system', jti: randomUUID(),
    });
  };
  const fake = await listen(async (req, res) => {
    if (req.method === 'GET' && req.path === '/oauth/authorize') {
      const code = randomUUID().slice(0, 8);
      codes.set(code, req.query.redirect_uri);
      const to = new URL(req.query.redirect_uri);
      to.searchParams.set('code', code);
      if (req.query.state) to.searchParams.set('state', req.query.state);
      res.writeHead(302, { location: to.toString() }).end();
      return;
    }
    if (req.method === 'POST' && req.path === '/oauth/token') {
      const creds = basic(req.headers.authorization);
      if (!creds || creds[0] !== clientId || creds[1] !== clientSecret) return json(res, 401, { error: 'invalid_client', error_description: 'Bad client credentials' });
      if (req.body !== '') return json(res, 400, { error: 'invalid_request', error_description: 'parameters belong in the query string' });
      const q = req.query;
      if (q.grant_type === 'authorization_code') {
        if (!codes.has(q.code) || codes.get(q.code) !== q.redirect_uri) return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid authorization code' });
        codes.delete(q.code);
        return issue(res);
      }
      if (q.grant_type === 'refresh_token') {
        state.refreshGrants += 1;
        if (!liveRefresh.delete(q.refresh_token)) return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh token' });
        return issue(res, systemOf.get(q.refresh_token));
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (req.method === 'GET' && req.path.startsWith('/api/v4/')) {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (req.query.key !== apiKey) return json(res, 401, { message: 'Not Authorized', details: 'User is not authorized', code: 401 });
      if (!liveAccess.has(token)) return json(res, 401, { message: 'Not Authorized', details: 'Invalid access token', code: 401 });
      // The plan's limit, counted per app (every customer's calls) in fixed
      // windows, when a call arrives: `transitMs` stands for the network
      // between a caller and the API.
      if (fake.transitMs) await new Promise((r) => setTimeout(r, fake.transitMs));
      if (fake.limit) {
        const now = Math.floor(Date.now() / 1000);
        const start = now - (now % fake.limit.seconds);
        const n = (fake.windows[start] = (fake.windows[start] ?? 0) + 1);
        (fake.windowSystems[start] ??= new Set()).add(systemOf.get(token));
        if (n > fake.limit.calls) {
          fake.rejected += 1;
          return json(res, 429, { message: 'Too Many Requests', details: 'Usage limit exceeded for plan Watt', code: 429, period: 'minute', period_start: start, period_end: start + fake.limit.seconds, limit: fake.limit.calls });
        }
      }
      if (req.path === '/api/v4/systems') {
        const size = Number(req.query.size ?? 10);
        const page = Number(req.query.page ?? 1);
        const mine = fake.systemsFor(token);
        const systems = mine.slice((page - 1) * size, page * size);
        return json(res, 200, { total: mine.length, current_page: page, size, count: systems.length, items: 'systems', systems });
      }
      const devices = /^\/api\/v4\/systems\/(\d+)\/devices$/.exec(req.path);
      if (devices) {
        // Only active devices are listed; a consumption meter where the test made one.
        const meters = [{ id: 1059640322, last_report_at: Math.floor(Date.now() / 1000), name: 'production', serial_number: '901553005272EIM1', part_number: '800-00655-r08', sku: null, model: 'Envoy S', status: 'normal', active: true, state: 'enabled', config_type: 'Production', config_phase: 'three', product_name: 'RGM' }];
        if (fake.meters[devices[1]]) meters.push({ id: 1060400473, last_report_at: Math.floor(Date.now() / 1000), name: 'consumption', serial_number: '122105037250EIM2', part_number: '800-00655-r09', sku: null, model: 'IQ Envoy', status: 'normal', active: true, state: 'enabled', config_type: 'Net', config_phase: 'single', product_name: 'IQ Gateway' });
        return json(res, 200, { system_id: Number(devices[1]), total_devices: meters.length + 1, items: 'devices', devices: { micros: [{ id: 1, serial_number: '121547060495', model: 'IQ7+', status: 'normal', active: true }], meters } });
      }
      const telemetry = /^\/api\/v4\/systems\/(\d+)\/(telemetry\/consumption_meter|energy_import_telemetry|energy_export_telemetry)$/.exec(req.path);
      if (telemetry) {
        const m = fake.meters[telemetry[1]];
        if (!m) return json(res, 422, { message: 'Unprocessable Entity', details: 'Invalid request because of \'System does not have a consumption meter\'', code: 422 });
        if (req.query.granularity !== 'week' || !/^\d+$/.test(req.query.start_at ?? '')) return json(res, 422, { message: 'Unprocessable Entity', details: 'Failed to parse date', code: 422 });
        const now = Math.floor(Date.now() / 1000);
        // Before the first report: moved to it. One week at most, never past now.
        const start = Math.max(Number(req.query.start_at), m.first);
        const end = Math.min(now, start + 7 * 86400);
        const rows = [];
        for (let e = start - (start % 900) + 900; e <= end; e += 900) rows.push(e);
        fake.telemetryCalls.push({ system: telemetry[1], path: telemetry[2], start_at: Number(req.query.start_at) });
        const meta = { status: 'normal', last_report_at: now, last_energy_at: now, operational_at: m.first };
        if (telemetry[2] === 'telemetry/consumption_meter') {
          return json(res, 200, { system_id: Number(telemetry[1]), granularity: 'week', total_devices: 1, start_at: start, end_at: end, items: 'intervals', intervals: rows.map((e) => ({ end_at: e, devices_reporting: 1, enwh: fake.wh('consumption', e) })), meta });
        }
        const field = telemetry[2] === 'energy_import_telemetry' ? 'wh_imported' : 'wh_exported';
        const kind = field === 'wh_imported' ? 'import' : 'export';
        return json(res, 200, { system_id: Number(telemetry[1]), granularity: 'week', total_devices: 0, start_at: start, end_at: end, items: 'intervals', intervals: [rows.map((e) => ({ end_at: e, [field]: fake.wh(kind, e) }))], meta });
      }
      const lifetime = /^\/api\/v4\/systems\/(\d+)\/energy_lifetime$/.exec(req.path);
      if (lifetime) {
        const p = fake.production[lifetime[1]];
        if (!p) return json(res, 404, { message: 'Not Found', details: `System not found for {:id=>${lifetime[1]}}`, code: 404 });
        return json(res, 200, { system_id: Number(lifetime[1]), start_date: p.start, production: p.wh, micro_production: p.wh, meter_start_date: p.start, meter_production: p.wh.map(() => 0), meta: { status: 'normal', last_report_at: Math.floor(Date.now() / 1000), last_energy_at: Math.floor(Date.now() / 1000), operational_at: 1497445200 } });
      }
    }
    return json(res, 404, { message: 'Not Found' });
  });
  fake.state = state;
  // One system per grant unless a test says otherwise; production by system.
  fake.systemsFor = (token) => [{ system_id: systemOf.get(token), name: 'Head office array', public_name: 'Residential System', timezone: 'Europe/London', status: 'normal' }];
  fake.production = {};
  // Systems with a consumption meter: { [systemId]: { first: epoch s of the first report } }.
  fake.meters = {};
  fake.telemetryCalls = [];
  fake.wh = (kind, end) => {
    const n = end / 900;
    return kind === 'consumption' ? (n % 23) * 11 + 7 : kind === 'import' ? (n % 13) * 9 : (n % 7) * 5;
  };
  fake.windows = {};
  fake.windowSystems = {};
  fake.rejected = 0;
  fake.limit = null;
  fake.transitMs = 0;
  return fake;
}
