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
