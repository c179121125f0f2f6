// The Worker's entry point: the Rust Worker built by worker-build, wrapped so
// that a panic (which aborts the wasm instance and rejects the call) still
// answers with the API's one error shape: an opaque RFC 9457 problem.
// worker-build's shim reinitialises the instance on the next request.

import { WorkerEntrypoint } from 'cloudflare:workers';
import RustWorker from '../build/index.js';

function panicResponse(request) {
  const requestId = crypto.randomUUID().replaceAll('-', '');
  const path = new URL(request.url).pathname;
  console.error(JSON.stringify({ level: 'error', msg: 'request', request_id: requestId, status: 500, error: 'worker panicked' }));
  const body = {
    type: '/problems/internal-error',
    title: 'Internal server error',
    status: 500,
    detail: 'an unexpected error occurred; quote the request id when reporting it',
    instance: path,
    request_id: requestId,
  };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', 'X-Request-Id': requestId },
  });
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    try {
      return await new RustWorker(this.ctx, this.env).fetch(request);
    } catch {
      return panicResponse(request);
    }
  }
}
