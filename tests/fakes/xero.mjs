// Xero: a real OAuth 2.0 authorization server (oauth2-mock-server) made to
// behave like Xero's identity service where it matters here: HTTP Basic
// client auth, PKCE required, single-use rotating refresh tokens, and an
// `invalid_grant` switch. Plus the API's GET /connections.
//
// The mock's request handler is served by our own server (see server.mjs
// for why every fake closes its connections), and revocation is answered
// here: the mock's /revoke replies before reading the request body.
//
// Test controls for the token endpoint's refresh grant: `refreshDelays`
// (ms, one per refresh, in order) holds a response back; `tokenHolds`
// (promises, one per token request, in order) keeps a request unread, and
// so unprocessed, until the promise settles (`heldArrivals` counts them);
// `stallRefresh` sends the headers and half a body, then nothing;
// `refreshStatus` answers with that HTTP status and a non-OAuth body.

import http from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';
import { randomUUID as randomId } from 'node:crypto';
import { basic, json, listen } from './server.mjs';

export async function xero({ clientId, clientSecret }) {
  const mock = new OAuth2Server();
  await mock.issuer.keys.generate('RS256');
  const control = {
    refreshGrants: [], // refresh tokens presented, in order
    issuedRefresh: [], // refresh tokens handed out, in order
    failRefreshWith: null, // e.g. 'invalid_grant'
    refreshStatus: null, // e.g. 503
    refreshDelays: [],
    tokenHolds: [],
    heldArrivals: 0,
    stallRefresh: false,
    accessTtl: 1800,
    revoked: [],
  };
  const live = new Set();
  const liveAccess = new Set();
  mock.service.on('beforeResponse', (response, req) => {
    const creds = basic(req.headers.authorization);
    if (!creds || creds[0] !== clientId || creds[1] !== clientSecret) {
      response.statusCode = 401;
      response.body = { error: 'invalid_client' };
      return;
    }
    const body = req.body;
    if (body.grant_type === 'authorization_code' && !body.code_verifier) {
      response.statusCode = 400;
      response.body = { error: 'invalid_grant', error_description: 'PKCE code_verifier required' };
      return;
    }
    if (body.grant_type === 'refresh_token') {
      control.refreshGrants.push(body.refresh_token);
      req.delayMs = control.refreshDelays.shift() ?? 0;

      req.stall = control.stallRefresh;
      if (control.refreshStatus) {
        req.rawStatus = control.refreshStatus;
        return;
      }
      if (control.failRefreshWith || !live.delete(body.refresh_token)) {
        response.statusCode = 400;
        response.body = { error: control.failRefreshWith ?? 'invalid_grant' };
        return;
      }
    }
    response.body.expires_in = control.accessTtl;
    live.add(response.body.refresh_token);
    liveAccess.add(response.body.access_token);
    control.issuedRefresh.push(response.body.refresh_token);
  });
  const handle = mock.service.requestHandler;
  const server = http.createServer((req, res) => {
    res.setHeader('connection', 'close');
    if (req.method === 'POST' && req.url === '/revoke') return revoke(req, res);
    const end = res.end.bind(res);
    res.end = (content, ...rest) => {
      // An unknown, spent or mismatched code: Xero answers as RFC 6749
      // says (400, `invalid_grant`); the mock library sends a problem
      // document instead.
      if (req.url === '/token' && res.statusCode === 400 && String(res.getHeader('content-type')).includes('problem+json')) {
        res.setHeader('content-type', 'application/json');
        res.removeHeader('content-length');
        return end(JSON.stringify({ error: 'invalid_grant' }));
      }
      if (req.rawStatus) {
        res.statusCode = req.rawStatus;
        res.setHeader('content-type', 'text/html');
        res.removeHeader('content-length');
        return end('<html><body>Service Unavailable</body></html>');
      }
      if (req.stall) {
        res.removeHeader('content-length');
        res.write(String(content).slice(0, 10));
        return res; // never ends: the client must give up by itself
      }
      if (req.delayMs) return setTimeout(() => end(content, ...rest), req.delayMs);
      return end(content, ...rest);
    };
    const hold = req.method === 'POST' && req.url === '/token' ? control.tokenHolds.shift() : undefined;
    if (hold) {
      control.heldArrivals += 1;
      return hold.then(() => handle(req, res));
    }
    handle(req, res);
  });
  server.keepAliveTimeout = 0;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  mock.issuer.url = base;

  function revoke(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const creds = basic(req.headers.authorization);
      if (!creds || creds[0] !== clientId || creds[1] !== clientSecret) return json(res, 401, { error: 'invalid_client' });
      const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token');
      control.revoked.push(token);
      live.delete(token);
      res.writeHead(200).end();
    });
  }

  // The accounting API, per organisation (tenant): `control.tenants` lists
  // the grant's organisations; `control.books[tenantId]` holds their
  // accounts, bank transactions and invoices as Xero serialises them.
  const api = await listen((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!liveAccess.has(token) || control.rejectAccess) {
      return json(res, 401, { Type: null, Title: 'Unauthorized', Status: 401, Detail: 'AuthenticationUnsuccessful' });
    }
    if (req.path === '/connections') {
      if (control.connectionsDown) return json(res, 503, { Title: 'Service Unavailable' });
      return json(res, 200, control.tenants);
    }
    const m = /^\/api\.xro\/2\.0\/(Accounts|BankTransactions|Invoices)$/.exec(req.path);
    if (!m) return json(res, 404, {});
    const tenant = req.headers['xero-tenant-id'];
    const connected = control.tenants.some((t) => t.tenantId === tenant);
    const books = control.books[tenant] ?? { accounts: [], bank: [], invoices: [] };
    if (!connected) {
      return json(res, 403, { Type: null, Title: 'Forbidden', Status: 403, Detail: 'AuthenticationUnsuccessful' });
    }
    // Per-organisation limits, counted in fixed windows as the test sets them.
    control.calls[tenant] = (control.calls[tenant] ?? 0) + 1;
    if (control.throttleNext) {
      const { retryAfter, problem } = control.throttleNext;
      control.throttleNext = null;
      control.rejected += 1;
      return json(res, 429, { Title: 'Too Many Requests' }, { 'retry-after': String(retryAfter), 'x-rate-limit-problem': problem });
    }
    if (control.tenantLimit) {
      const now = Math.floor(Date.now() / 1000);
      const key = `${tenant}@${now - (now % control.tenantLimit.seconds)}`;
      const n = (control.windows[key] = (control.windows[key] ?? 0) + 1);
      if (n > control.tenantLimit.calls) {
        control.rejected += 1;
        return json(res, 429, { Title: 'Too Many Requests' }, { 'retry-after': String(control.tenantLimit.seconds), 'x-rate-limit-problem': 'minute' });
      }
    }
    const stamp = { 'x-minlimit-remaining': '59', 'x-daylimit-remaining': '4999', 'x-appminlimit-remaining': '9999' };
    if (m[1] === 'Accounts') return json(res, 200, { Status: 'OK', Accounts: books.accounts }, stamp);
    const list = m[1] === 'BankTransactions' ? books.bank : books.invoices;
    const type = /^Type=="([A-Z-]+)"$/.exec(req.query.where ?? '');
    const since = req.headers['if-modified-since'] ? Date.parse(`${req.headers['if-modified-since']}Z`) : -Infinity;
    if (Number.isNaN(since)) return json(res, 400, { Type: 'ValidationException', Message: 'bad If-Modified-Since' });
    const updated = (d) => Number(/\/Date\((\d+)/.exec(d.UpdatedDateUTC)[1]);
    const rows = list
      .filter((d) => !type || d.Type === type[1])
      .filter((d) => updated(d) > since)
      .sort((a, b) => (req.query.order === 'UpdatedDateUTC ASC' ? updated(a) - updated(b) : 0));
    const page = Number(req.query.page ?? 0);
    const pageRows = page ? rows.slice((page - 1) * 100, page * 100) : rows;
    control.served.push({ tenant, list: m[1], since: req.headers['if-modified-since'] ?? null, page, rows: pageRows.length });
    const body = { Id: randomId(), Status: 'OK', ProviderName: 'carbon', DateTimeUTC: `/Date(${Date.now()})/`, [m[1]]: pageRows };
    if (page) body.pagination = { page, pageSize: 100, pageCount: Math.max(1, Math.ceil(rows.length / 100)), itemCount: rows.length };
    return json(res, 200, body, stamp);
  });
  control.tenants = [
    { id: 'e1eede29-f875-4a5d-8470-17f6a29a88b1', authEventId: 'd99ecdfe-391d-43d2-b834-17636ba90e8d', tenantId: '70784a63-d24b-46a9-a4db-0e70a274b056', tenantType: 'ORGANISATION', tenantName: 'Maple Florists Ltd', createdDateUtc: '2019-07-09T23:40:30.1833130', updatedDateUtc: '2020-05-15T01:35:13.8491980' },
  ];
  control.books = {};
  control.calls = {};
  control.windows = {};
  control.served = [];
  control.rejected = 0;
  control.throttleNext = null;
  control.tenantLimit = null;
  return {
    base,
    api,
    control,
    /** Worker settings pointing Xero at this fake. */
    vars: {
      XERO_CLIENT_ID: clientId,
      XERO_CLIENT_SECRET: clientSecret,
      XERO_AUTHORIZE_URL: `${base}/authorize`,
      XERO_TOKEN_URL: `${base}/token`,
      XERO_REVOCATION_URL: `${base}/revoke`,
      XERO_API_BASE: api.url,
    },
    /** Makes every outstanding access token fail at the API (as after revocation). */
    expireAccessTokens() {
      liveAccess.clear();
    },
    async close() {
      await new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      });
      await api.close();
    },
  };
}
