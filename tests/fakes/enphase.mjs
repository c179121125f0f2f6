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
  const issue = (res) => {
    const access = randomUUID();
    const refresh = randomUUID();
    liveAccess.add(access);
    liveRefresh.add(refresh);
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
        return issue(res);
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (req.method === 'GET' && req.path === '/api/v4/systems') {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (req.query.key !== apiKey) return json(res, 401, { message: 'Not Authorized', details: 'User is not authorized', code: 401 });
      if (!liveAccess.has(token)) return json(res, 401, { message: 'Not Authorized', details: 'Invalid access token', code: 401 });
      return json(res, 200, { total: 1, current_page: 1, size: 10, count: 1, items: 'systems', systems: [{ system_id: 698905955, name: 'Head office array', public_name: 'Residential System', timezone: 'Europe/London', status: 'normal' }] });
    }
    return json(res, 404, { message: 'Not Found' });
  });
  fake.state = state;
  return fake;
}
