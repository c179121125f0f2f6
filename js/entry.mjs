// The Worker's entry point: the Rust Worker built by worker-build, wrapped so
// that a panic still answers with the API's one error shape, an opaque
// RFC 9457 problem, instead of the runtime's plain-text 500.
//
// A panic aborts the wasm instance: the promise of every request in flight
// would never settle. The Rust panic hook (src/lib.rs) calls
// globalThis.__carbonOnPanic, which fails those requests at once; worker-build's
// module reinitialises the instance on the next request.

import { WorkerEntrypoint } from 'cloudflare:workers';
import RustWorker from '../build/index.js';

// Durable Object classes the Rust Worker defines, for the runtime to find.
export { ProviderBudget } from '../build/index.js';

const inFlight = new Set();
globalThis.__carbonOnPanic = () => {
  for (const fail of inFlight) fail(new Error('worker panicked'));
  inFlight.clear();
};

function panicResponse(request) {
  const requestId = crypto.randomUUID().replaceAll('-', '');
  const instance = new URL(request.url).pathname;
  console.error(JSON.stringify({ level: 'error', msg: 'request', request_id: requestId, method: request.method, status: 500, error: 'worker panicked' }));
  const body = {
    type: '/problems/internal-error',
    title: 'Internal server error',
    status: 500,
    detail: 'an unexpected error occurred; quote the request id when reporting it',
    instance,
    request_id: requestId,
  };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', 'X-Request-Id': requestId },
  });
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    let fail;
    const panicked = new Promise((_, reject) => {
      fail = reject;
    });
    inFlight.add(fail);
    try {
      return await Promise.race([new RustWorker(this.ctx, this.env).fetch(request), panicked]);
    } catch {
      return panicResponse(request);
    } finally {
      inFlight.delete(fail);
    }
  }

  // The cron trigger. A panic here is logged by the Rust hook; the runtime
  // records the failed invocation, there is no response to shape.
  async scheduled(controller) {
    return new RustWorker(this.ctx, this.env).scheduled(controller);
  }

  // The sync queue's consumer. The Rust handler acknowledges or retries
  // each message itself and never throws.
  async queue(batch) {
    return new RustWorker(this.ctx, this.env).queue(batch);
  }
}
