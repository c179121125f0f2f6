// A tiny HTTP server on loopback that records every request it serves.
//
// Every fake answers with `Connection: close` and only after reading the
// whole request body. A kept-alive socket that the server times out (Node's
// default is 5 s) while a client is about to reuse it is reset under the
// client: on a loaded 2-core machine that race fired often enough to fail
// the suite (ECONNRESET in the test's own fetch, multi-second stalls in the
// Worker's). A fresh connection per request costs nothing on loopback and
// leaves no socket to race over, for the test process and workerd alike.

import http from 'node:http';

export async function listen(handler) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    res.setHeader('connection', 'close');
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const url = new URL(req.url, 'http://fake');
    const record = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    requests.push(record);
    try {
      await handler(record, res);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  });
  server.keepAliveTimeout = 0;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.close(r);
        // Stalled responses (tests of deadlines) must not hold the close.
        server.closeAllConnections();
      }),
  };
}

export function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Decodes an HTTP Basic header into [user, password]. */
export function basic(header) {
  const m = /^Basic (.+)$/.exec(header ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  return [text.slice(0, i), text.slice(i + 1)];
}
