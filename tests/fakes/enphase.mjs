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
  const fake = await listen((req, res) => {
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
      // The plan's limit, counted per app (every customer's calls) in fixed windows.
      if (fake.limit) {
        const now = Math.floor(Date.now() / 1000);
        const start = now - (now % fake.limit.seconds);
        const n = (fake.windows[start] = (fake.windows[start] ?? 0) + 1);
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
  fake.windows = {};
  fake.rejected = 0;
  fake.limit = null;
  return fake;
}
