// Compile-time checks of the client's types (tsc only, never run). Every
// line marked as an expected error must be one: types that grew too loose
// fail the check as surely as types that are wrong.

import type { Client, Schemas } from './index.ts';

export async function checks(api: Client): Promise<void> {
  // Results are the documented 2xx bodies.
  const list: Schemas['IntegrationList'] = await api.get('/api/v1/integrations');
  const ds: Schemas['Datasource'] = await api.get('/api/v1/datasources/{id}', { path: { id: 'ds_1' } });
  void list;
  void ds;

  // @ts-expect-error: a path the API does not serve
  await api.get('/api/v1/nope');
  // @ts-expect-error: GET is not an operation of this path
  await api.get('/api/v1/datasources/oauth/complete');
  // @ts-expect-error: the path parameter is required
  await api.get('/api/v1/datasources/{id}');
  // @ts-expect-error: a required body member is missing
  await api.post('/api/v1/datasources', { body: { display_name: 'x' } });
  // Credentials are typed per integration.
  await api.post('/api/v1/datasources', { body: { integration_id: 'openai', credentials: { admin_key: 'k' } } });
  await api.post('/api/v1/datasources', { body: { integration_id: 'csv-upload' } });
  // @ts-expect-error: OpenAI takes an admin_key, not Octopus's fields
  await api.post('/api/v1/datasources', { body: { integration_id: 'openai', credentials: { api_key: 'k', account_number: 'A' } } });
  // @ts-expect-error: a required credential field is missing
  await api.post('/api/v1/datasources', { body: { integration_id: 'octopus-energy', credentials: { api_key: 'k' } } });
  // A reading's unit is one of its type's own.
  const day = { start: '2026-01-01', end: '2026-01-31', quantity: 5 };
  await api.post('/api/v1/datasources/{id}/readings', { path: { id: 'ds_1' }, body: [{ type: 'fuel', unit: 'litres', fuel: 'diesel', ...day }] });
  // @ts-expect-error: a fuel reading says which fuel
  await api.post('/api/v1/datasources/{id}/readings', { path: { id: 'ds_1' }, body: [{ type: 'fuel', unit: 'litres', ...day }] });
  // @ts-expect-error: litres are not a unit of electricity
  await api.post('/api/v1/datasources/{id}/readings', { path: { id: 'ds_1' }, body: [{ type: 'electricity', unit: 'litres', ...day }] });
  // @ts-expect-error: a reading names its type
  await api.post('/api/v1/datasources/{id}/readings', { path: { id: 'ds_1' }, body: [{ unit: 'kWh', ...day }] });
  // @ts-expect-error: not an integration connected by OAuth
  await api.post('/api/v1/datasources/oauth/authorize', { body: { integration_id: 'openai' } });
  // @ts-expect-error: not one of the documented categories
  await api.get('/api/v1/integrations', { query: { category: ['coal'] } });
  // @ts-expect-error: the result is a Datasource, not a list
  const wrong: Schemas['DatasourceList'] = await api.get('/api/v1/datasources/{id}', { path: { id: 'ds_1' } });
  void wrong;
  // An optional body may be left out.
  await api.post('/api/v1/datasources/{id}/sync', { path: { id: 'ds_1' } });
}
