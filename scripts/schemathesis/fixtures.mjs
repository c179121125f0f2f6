// What the schemathesis run's user already has, and how the tester is told
// about it. A generated id is almost never a real one, and an operation on
// an id that only ever answers 404 tests nothing past the lookup; a caller
// of the API has ids of their own. So the run first makes one datasource of
// each kind (a key the fake Octopus accepts, a file upload, manual entry, a
// webhook feed with one endpoint, one sync run; two more for updates), and
// the tester draws each operation's path ids from those half of the time (a
// schemathesis dictionary binding), generating the other half as usual.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'smol-toml';
import { ROOT } from '../lib/toolchain.mjs';

/** The Octopus account the run's fake knows, and the synced fixture's key. */
export const OCTOPUS = { api_key: 'sk_live_abcdefghijklmnopqrstuvwx', account_number: 'A-1B2C3D4E', mpan: '1012345678901' };
const OCTOPUS_CREDENTIALS = { api_key: OCTOPUS.api_key, account_number: OCTOPUS.account_number };
/** What each keyed provider's fake accepts, as its owner would paste it. */
export const CREDENTIALS = {
  'octopus-energy': OCTOPUS_CREDENTIALS,
  openai: { admin_key: 'sk-admin-Qq1Rr2Ss3Tt4Uu5Vv6Ww7Xx8' },
  anthropic: { admin_key: 'sk-ant-admin01-abc' },
};

/** `api` is the suite's signed-in client (tests/helpers/http.mjs). */
export async function fixtures(api, user) {
  const post = async (url, body, status = 201) => {
    const res = await api(user, 'POST', url, body);
    if (res.status !== status) throw new Error(`POST ${url}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const synced = await post('/api/v1/datasources', {
    integration_id: 'octopus-energy',
    credentials: OCTOPUS_CREDENTIALS,
  });
  const run = await post(`/api/v1/datasources/${synced.id}/sync`, {}, 202);
  // The run finishes first: a sync while it runs is a 409, not a test.
  for (let i = 0; ; i++) {
    const { status } = (await api(user, 'GET', `/api/v1/datasources/${synced.id}/sync-runs/${run.id}`)).body;
    if (!['queued', 'running'].includes(status)) break;
    if (i > 120) throw new Error(`the fixture's sync run is still ${status} after 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const files = await post('/api/v1/datasources', { integration_id: 'csv-upload' });
  const typed = await post('/api/v1/datasources', { integration_id: 'manual-entry' });
  const pushed = await post('/api/v1/datasources', { integration_id: 'generic-webhook' });
  // Updates get their own: a generated update may disable what it names,
  // and a disabled datasource refuses syncs and data (409).
  const keyed = await post('/api/v1/datasources', { integration_id: 'octopus-energy', credentials: OCTOPUS_CREDENTIALS });
  const named = await post('/api/v1/datasources', { integration_id: 'csv-upload' });
  const endpoint = await post(`/api/v1/datasources/${pushed.id}/webhook-endpoints`);
  return {
    synced: synced.id,
    keyed: keyed.id,
    named: named.id,
    run: run.id,
    files: files.id,
    typed: typed.id,
    pushed: pushed.id,
    endpoint,
  };
}

/** Which of the user's things each operation's path parameters may name. */
export function bindings(f) {
  const fed = [f.files, f.typed, f.pushed];
  const all = [f.synced, ...fed];
  const doc = JSON.parse(readFileSync(path.join(ROOT, 'core', 'src', 'openapi.json'), 'utf8'));
  const templates = doc.components.schemas.Reading.properties.type.enum.map((t) => `${t}.csv`);
  return {
    getIntegration: { id: doc.components.schemas.CreateDatasource.properties.integration_id.enum },
    getUploadTemplate: { file: templates },
    getDatasource: { id: all },
    updateDatasource: { id: [f.keyed, f.named] },
    getDatasourceAudit: { id: all },
    checkDatasource: { id: [f.synced] },
    syncDatasource: { id: [f.synced] },
    listSyncRuns: { id: [f.synced] },
    getSyncRun: { id: [f.synced], run_id: [f.run] },
    addReadings: { id: [f.typed, f.files] },
    uploadFile: { id: [f.files, f.typed] },
    createWebhookEndpoint: { id: fed },
    listWebhookEndpoints: { id: [f.pushed] },
    listWebhookDeliveries: { id: [f.pushed] },
    rotateWebhookEndpoint: { id: [f.pushed], endpoint_id: [f.endpoint.id] },
    receiveGenericWebhook: { source: [f.endpoint.source] },
  };
}

/**
 * schemathesis.toml with the fixtures' ids as dictionaries bound to each
 * operation's path parameters; written apart, the project's file unchanged.
 */
export function testerConfig(f) {
  const config = parse(readFileSync(path.join(ROOT, 'schemathesis.toml'), 'utf8'));
  config.operations ??= [];
  config.dictionaries ??= {};
  for (const [operation, params] of Object.entries(bindings(f))) {
    let entry = config.operations.find((o) => o['include-operation-id'] === operation);
    if (!entry) {
      entry = { 'include-operation-id': operation };
      config.operations.push(entry);
    }
    entry.parameters ??= {};
    for (const [name, values] of Object.entries(params)) {
      const dictionary = `${operation}_${name}`;
      config.dictionaries[dictionary] = { values };
      entry.parameters[`path.${name}`] = { dictionary, probability: 0.5 };
    }
  }
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'carbon-st-')), 'schemathesis.toml');
  writeFileSync(file, stringify(config));
  return file;
}
