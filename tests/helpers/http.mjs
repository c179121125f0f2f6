// Assertions shared by the black-box tests.

/** Asserts the RFC 9457 shape and that request ids agree; returns the body. */
export async function expectProblem(assert, res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}`);
  assert.match(res.headers.get('content-type'), /^application\/problem\+json/);
  const body = await res.json();
  for (const member of ['type', 'title', 'status', 'detail', 'instance', 'request_id']) {
    assert.ok(member in body, `problem lacks ${member}: ${JSON.stringify(body)}`);
  }
  assert.equal(body.status, status);
  assert.equal(body.request_id, res.headers.get('x-request-id'));
  return body;
}

/**
 * A JSON client acting as a signed-in user. Every response body is pushed
 * to `seen`, so a test can check that no secret was ever returned.
 */
export function userClient(worker, issuer, seen = []) {
  return async function api(user, method, path, body) {
    const res = await worker().fetch(path, {
      method,
      headers: { authorization: `Bearer ${issuer.token(user)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    seen.push(text);
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
}
