// The OpenAPI document's own consistency, beyond what the routes test in
// core/src/openapi.rs checks: links lead to real operations with exactly the
// path parameters those take, from fields the linking response really has, and
// every operation on an id is reachable from the operation that creates it.
// (That responses match the document is checked on every black-box response:
// tests/helpers/contract.mjs.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deref, document } from './helpers/contract.mjs';

const operations = new Map();
for (const [path, item] of Object.entries(document.paths)) {
  for (const [method, op] of Object.entries(item)) if (op?.operationId) operations.set(op.operationId, { path, method, op });
}
const pathParams = (op) => (op.parameters ?? []).map(deref).filter((p) => p.in === 'path').map((p) => p.name);

/** The schema a JSON Pointer into a response body lands on, or undefined. */
function schemaAt(schema, pointer) {
  let s = deref(schema);
  for (const token of pointer.split('/').filter(Boolean)) {
    s = deref(s?.properties?.[token] ?? (s?.allOf ?? []).map(deref).find((m) => m.properties?.[token])?.properties[token]);
  }
  return s;
}

test('every link names a real operation, its exact path parameters, and fields the response has', () => {
  let links = 0;
  for (const { op, path, method } of operations.values()) {
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      for (const [name, link] of Object.entries(deref(response).links ?? {})) {
        links += 1;
        const where = `${method.toUpperCase()} ${path} ${status} link ${name}`;
        const target = operations.get(link.operationId);
        assert.ok(target, `${where}: no operation ${link.operationId}`);
        assert.deepEqual(Object.keys(link.parameters).sort(), pathParams(target.op).sort(), `${where}: parameters`);
        for (const expr of Object.values(link.parameters)) {
          if (expr.startsWith('$request.path.')) {
            assert.ok(pathParams(op).includes(expr.slice('$request.path.'.length)), `${where}: ${expr}`);
          } else {
            const m = /^\$response\.body#(\/.*)$/.exec(expr);
            assert.ok(m, `${where}: unsupported expression ${expr}`);
            const schema = deref(response).content?.['application/json']?.schema;
            assert.equal(schemaAt(schema, m[1])?.type, 'string', `${where}: ${expr} is not a string field of the response`);
          }
        }
      }
    }
  }
  assert.ok(links >= 20, `only ${links} links`);
});

test('every operation on a datasource is reachable by a link from creating one', () => {
  const create = operations.get('createDatasource').op.responses['201'].links;
  const reached = new Set(Object.values(create).map((l) => l.operationId));
  for (const { op, path } of operations.values()) {
    if (!path.startsWith('/api/v1/datasources/{id}')) continue;
    const params = pathParams(op);
    // Operations needing a second id are reached from the one creating it.
    if (params.length > 1) {
      const from = [...operations.values()].some(({ op: o }) =>
        Object.values(o.responses ?? {}).some((r) => Object.values(deref(r).links ?? {}).some((l) => l.operationId === op.operationId)),
      );
      assert.ok(from, `${op.operationId} is linked from nowhere`);
    } else {
      assert.ok(reached.has(op.operationId), `${op.operationId} is not linked from createDatasource`);
    }
  }
});
