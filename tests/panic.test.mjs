// A panic in the Rust Worker still answers in the API's one error shape, is
// logged, and the next request is served normally.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { expectProblem } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { until } from './helpers/clock.mjs';

let worker;
before(async () => {
  worker = await startWorker({ vars: workerVars(newIssuer(), { TEST_PANIC_ROUTE: 'enabled' }) });
});
after(() => worker?.stop());

test('a panic answers an opaque 500 problem and the Worker recovers', async () => {
  const res = await worker.fetch('/api/v1/_test/panic');
  const body = await expectProblem(assert, res, 500);
  assert.equal(body.type, '/problems/internal-error');
  assert.ok(!body.detail.includes('deliberate'), 'the panic message must not reach the client');
  await worker.logLine(body.request_id, (l) => l.status === 500);
  // The panic hook's line and the access line come by separate streams.
  await until(() => /deliberate panic/.test(worker.logs()), 'the panic hook\'s line is in');
  assert.match(worker.logs(), /deliberate panic/, 'the panic message is logged');

  const next = await worker.fetch('/api/v1/health');
  assert.equal(next.status, 200);
});
