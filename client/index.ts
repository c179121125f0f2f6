// A typed fetch client for the carbon-integrations API, for the frontend.
//
// Types come from the OpenAPI document the Worker serves: `npm run client`
// regenerates ./schema.d.ts with openapi-typescript, and `npm test` fails when
// the committed file and the document disagree, or when this file no longer
// type-checks against it. No runtime dependencies: only `fetch`.
//
//   const api = createClient({ baseUrl, token: () => session.getToken() });
//   const page = await api.get('/api/v1/integrations', { query: { category: ['solar_battery'] } });
//   const ds = await api.post('/api/v1/datasources', { body: { integration_id: 'openai', ... } });
//
// A non-2xx answer throws an `ApiError` carrying the RFC 9457 problem
// document; switch on `problem.type`, not on the message.

import type { components, paths } from './schema';

export type { components, paths };
export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The operation at `path` for `method` (never when the path lacks it). */
type Operation<P extends keyof paths, M extends Method> = paths[P][M] extends infer O
  ? O extends { responses: unknown }
    ? O
    : never
  : never;

/** Paths that answer `method`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: Operation<P, M> extends never ? never : P;
}[keyof paths];

type Params<O> = O extends { parameters: infer Q } ? Q : never;
type PathParams<O> = Params<O> extends { path: infer T } ? (T extends Record<string, unknown> ? T : never) : never;
type QueryParams<O> = Params<O> extends { query?: infer T } ? T : never;
type JsonBody<O> = O extends { requestBody?: infer RB }
  ? NonNullable<RB> extends { content: { 'application/json': infer B } }
    ? B
    : never
  : never;
/** Whether the operation requires a body (some take an optional one). */
type BodyRequired<O> = O extends { requestBody: infer RB } ? ([RB] extends [never] ? false : true) : false;

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : undefined;
type SuccessStatus = 200 | 201 | 202 | 204;
/** What a successful call returns: the JSON body of its 2xx answer. */
export type Success<O> = O extends { responses: infer R }
  ? { [S in keyof R]: S extends SuccessStatus ? JsonOf<R[S]> : never }[keyof R]
  : never;

/** Options of one call: path parameters, query and body where the operation has them. */
export type Options<O> = ([PathParams<O>] extends [never] ? { path?: never } : { path: PathParams<O> }) &
  ([QueryParams<O>] extends [never] ? { query?: never } : { query?: QueryParams<O> }) &
  ([JsonBody<O>] extends [never]
    ? { body?: never }
    : BodyRequired<O> extends true
      ? { body: JsonBody<O> }
      : { body?: JsonBody<O> }) & {
    /** Extra headers (e.g. If-None-Match). */
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

/** A problem document the API answered with, as an exception. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(`${problem.title}: ${problem.detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

export interface ClientOptions {
  /** Where the Worker is served, e.g. https://api.example.com (no trailing slash). */
  baseUrl: string;
  /** The Clerk session token for signed-in calls; public calls work without. */
  token?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

function buildUrl(base: string, template: string, path?: Record<string, unknown>, query?: Record<string, unknown>): string {
  const filled = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = path?.[name];
    if (value === undefined || value === null) throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    // Array parameters are form-exploded (category=a&category=b), as documented.
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const qs = search.toString();
  return `${base}${filled}${qs ? `?${qs}` : ''}`;
}

async function problemFrom(res: Response): Promise<Problem> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as Problem;
    if (body && typeof body.type === 'string') return body;
  } catch {
    // not a problem document: described below
  }
  return {
    type: '/problems/internal-error',
    title: res.statusText || 'Error',
    status: res.status,
    detail: text.slice(0, 200) || `HTTP ${res.status}`,
    instance: new URL(res.url || 'http://invalid/').pathname,
    request_id: res.headers.get('X-Request-Id') ?? '',
  } as Problem;
}

export function createClient(options: ClientOptions) {
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function call<O>(method: Method, template: string, opts: Options<O> | undefined): Promise<Success<O>> {
    const o = (opts ?? {}) as { path?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal };
    const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
    const token = await options.token?.();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(o.body);
    }
    const res = await doFetch(buildUrl(options.baseUrl, template, o.path, o.query), {
      method: method.toUpperCase(),
      headers,
      body,
      signal: o.signal,
    });
    if (!res.ok) throw new ApiError(res.status, await problemFrom(res));
    if (res.status === 204 || res.headers.get('Content-Length') === '0') return undefined as Success<O>;
    return (await res.json()) as Success<O>;
  }

  return {
    /** The API's origin: OAuth callback pages post their result from it. */
    origin: new URL(options.baseUrl).origin,
    get: <P extends PathsWith<'get'>>(path: P, ...opts: OptionalIfEmpty<Operation<P, 'get'>>) =>
      call<Operation<P, 'get'>>('get', path, opts[0]),
    post: <P extends PathsWith<'post'>>(path: P, ...opts: OptionalIfEmpty<Operation<P, 'post'>>) =>
      call<Operation<P, 'post'>>('post', path, opts[0]),
    put: <P extends PathsWith<'put'>>(path: P, ...opts: OptionalIfEmpty<Operation<P, 'put'>>) =>
      call<Operation<P, 'put'>>('put', path, opts[0]),
    patch: <P extends PathsWith<'patch'>>(path: P, ...opts: OptionalIfEmpty<Operation<P, 'patch'>>) =>
      call<Operation<P, 'patch'>>('patch', path, opts[0]),
    delete: <P extends PathsWith<'delete'>>(path: P, ...opts: OptionalIfEmpty<Operation<P, 'delete'>>) =>
      call<Operation<P, 'delete'>>('delete', path, opts[0]),
  };
}

/** Options are required when the operation has path parameters or a body. */
type OptionalIfEmpty<O> = [PathParams<O>] extends [never]
  ? BodyRequired<O> extends true
    ? [opts: Options<O>]
    : [opts?: Options<O>]
  : [opts: Options<O>];

export type Client = ReturnType<typeof createClient>;
