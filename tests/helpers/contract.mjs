// The OpenAPI document as a contract the black-box suite enforces: every
// response the Worker gives a test is checked against what the document says
// that operation returns for that status (media type and JSON Schema). A
// response the document does not describe fails the test that received it.
//
// The document is the one the Worker serves (core/src/openapi.json, compiled
// in); schemas are JSON Schema 2020-12, as OpenAPI 3.1 defines them.

import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** JSON Pointer escaping of one reference token. */
const escape = (token) => token.replaceAll('~', '~0').replaceAll('/', '~1');

const DOC_ID = 'openapi.json';
export const document = JSON.parse(readFileSync(new URL('../../core/src/openapi.json', import.meta.url), 'utf8'));

// strict: false lets the document's OpenAPI-only keywords (example,
// discriminator's mapping, x-*) through; every JSON Schema keyword still applies.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema(closed(document), DOC_ID);

/**
 * The document with every object schema that lists its properties closed
 * (`unevaluatedProperties: false`) unless it says otherwise: a response
 * member the document does not name fails, so the document states all that
 * the API returns. A schema that means to accept more says so with
 * `additionalProperties`. Members of an `allOf` stay open (their sum is
 * closed instead), and so do components an `allOf` extends.
 */
function closed(doc) {
  const copy = structuredClone(doc);
  const bases = new Set();
  (function findBases(o) {
    if (!o || typeof o !== 'object') return;
    for (const member of o.allOf ?? []) if (member.$ref) bases.add(member.$ref);
    Object.values(o).forEach(findBases);
  })(copy);
  (function close(o, pointer, open) {
    if (!o || typeof o !== 'object') return;
    const isObject = o.type === 'object' || (Array.isArray(o.type) && o.type.includes('object'));
    if (!open && !bases.has(`#${pointer}`) && ((isObject && o.properties) || o.allOf) && !('additionalProperties' in o) && !('unevaluatedProperties' in o)) {
      o.unevaluatedProperties = false;
    }
    for (const [k, v] of Object.entries(o)) {
      if (k === 'allOf' && Array.isArray(v)) v.forEach((m, i) => close(m, `${pointer}/allOf/${i}`, true));
      else if (k !== 'example' && k !== 'examples') close(v, `${pointer}/${escape(k)}`, false);
    }
  })(copy, '', false);
  return copy;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];


/** The object at a JSON Pointer into the document. */
const at = (pointer) =>
  pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((o, t) => o?.[t], document);

/** Follows `$ref`s from `obj` (found at `pointer`); returns the final pointer and object. */
function followFrom(pointer, obj) {
  for (let i = 0; obj?.$ref; i++) {
    if (i > 10 || !obj.$ref.startsWith('#/')) throw new Error(`unusable $ref ${obj.$ref}`);
    pointer = obj.$ref.slice(1);
    obj = at(pointer);
  }
  return { pointer, obj };
}

/** Follows `$ref`s from `pointer`; returns the final pointer and object. */
const follow = (pointer) => followFrom(pointer, at(pointer));

/** A document object with its `$ref`s followed. */
export const deref = (obj) => followFrom(null, obj).obj;

/** The documented path template for a concrete path, literal segments first (as the router ranks them). */
export function templateFor(path) {
  const segments = path.split('/');
  let best = null;
  for (const template of Object.keys(document.paths)) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    let literals = 0;
    const ok = parts.every((p, i) => {
      if (p.startsWith('{') && p.endsWith('}')) return segments[i] !== '';
      literals += 1;
      return p === segments[i];
    });
    if (ok && (!best || literals > best.literals)) best = { template, literals };
  }
  return best?.template ?? null;
}

const validators = new Map();
function validatorFor(pointer) {
  if (!validators.has(pointer)) validators.set(pointer, ajv.compile({ $ref: `${DOC_ID}#${pointer}` }));
  return validators.get(pointer);
}

/**
 * What is wrong with this response under the document, or null. `body` is
 * the response's text.
 */
export function violation({ method, path, status, contentType, body }) {
  method = method.toLowerCase();
  // HEAD answers as GET without a body; preflights are CORS, not the API.
  if (method === 'options') return null;
  const lookup = method === 'head' ? 'get' : method;
  const template = templateFor(path);
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  let found;
  if (template && METHODS.includes(lookup) && document.paths[template][lookup]) {
    const responses = document.paths[template][lookup].responses ?? {};
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
    if (!key) return `${method.toUpperCase()} ${template}: status ${status} is not documented`;
    found = follow(`/paths/${escape(template)}/${lookup}/responses/${escape(key)}`);
  } else {
    // No operation: an unknown path (404) or method (405). It must still be
    // the API's one problem shape.
    if (media !== 'application/problem+json') {
      return `${method.toUpperCase()} ${path}: undocumented operation answered ${status} ${media || 'without a body'}`;
    }
    found = follow('/components/responses/Problem');
  }
  const { pointer, obj: responseObj } = found;
  if (method === 'head' || status === 304 || body === '') {
    return null;
  }
  const content = responseObj.content ?? {};
  if (!(media in content)) {
    return `${method.toUpperCase()} ${template ?? path} ${status}: media type ${media || '(none)'} is not documented (documented: ${Object.keys(content).join(', ') || 'no body'})`;
  }
  if (!media.endsWith('json') || !content[media].schema) return null;
  let value;
  try {
    value = JSON.parse(body);
  } catch {
    return `${method.toUpperCase()} ${template ?? path} ${status}: body is not JSON`;
  }
  const validate = validatorFor(`${pointer}/content/${escape(media)}/schema`);
  if (validate(value)) return null;
  const errors = validate.errors
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('; ');
  return `${method.toUpperCase()} ${template ?? path} ${status}: body does not match the documented schema: ${errors}`;
}

/**
 * fetch, once more for a GET or HEAD whose pooled keep-alive connection the
 * server had already closed (undici reports `other side closed` before any
 * byte of the answer): a test that pauses for seconds (a wrangler d1 command
 * on a loaded machine) can outlast the server's idle timeout.
 */
async function fetchRetryingStale(url, init) {
  try {
    return await fetch(url, init);
  } catch (err) {
    const idempotent = ['GET', 'HEAD'].includes((init.method ?? 'GET').toUpperCase());
    if (idempotent && err?.cause?.code === 'UND_ERR_SOCKET') return fetch(url, init);
    throw err;
  }
}

/**
 * `fetch` that checks each response against the document and throws on a
 * mismatch, naming the operation, the status and the schema errors.
 */
export function checkedFetch(base) {
  return async (path, init = {}) => {
    const res = await fetchRetryingStale(`${base}${path}`, init);
    const url = new URL(`${base}${path}`);
    // The test scheduler's own route is wrangler's, not the API's.
    if (url.pathname.startsWith('/__')) return res;
    const body = init.method === 'HEAD' ? '' : await res.clone().text();
    const problem = violation({
      method: init.method ?? 'GET',
      path: url.pathname,
      status: res.status,
      contentType: res.headers.get('content-type'),
      body,
    });
    if (problem) throw new Error(`contract: ${problem}`);
    return res;
  };
}
