// The calls a frontend makes most, as the README shows them. `npm test`
// type-checks this file against the generated types and runs it against the
// Worker (tests/client.test.mjs), so the README's examples cannot rot.

import { ApiError, createClient, type Client, type Schemas } from './index.ts';

export function client(baseUrl: string, token: () => string | Promise<string>): Client {
  return createClient({ baseUrl, token });
}

/** The catalog page: what can be connected, filtered like the UI filters it. */
export async function solarIntegrations(api: Client): Promise<Schemas['IntegrationSummary'][]> {
  const page = await api.get('/api/v1/integrations', {
    query: { category: ['solar_battery'], status: ['available'], per_page: 50 },
  });
  return page.data;
}

/**
 * Connecting a provider by API key; a rejected key is a 422 problem. The
 * document types credentials per integration: `{integration_id: 'openai',
 * credentials: {admin_key}}` compiles, OpenAI with Octopus's fields does not.
 */
export async function connectByKey(
  api: Client,
  connection: Schemas['CreateDatasource'],
): Promise<Schemas['Datasource'] | Schemas['Problem']> {
  try {
    return await api.post('/api/v1/datasources', { body: { display_name: 'Head office', ...connection } });
  } catch (err) {
    if (err instanceof ApiError && err.problem.type === '/problems/validation-failed') return err.problem;
    throw err;
  }
}

/** Starting an OAuth connection: where to send the user's popup. */
export async function startOAuth(
  api: Client,
  integrationId: Schemas['AuthorizeRequest']['integration_id'],
): Promise<Schemas['Authorization']> {
  return api.post('/api/v1/datasources/oauth/authorize', { body: { integration_id: integrationId } });
}

/** Finishing it with what the callback page posted back. */
export async function finishOAuth(api: Client, state: string, code: string): Promise<Schemas['CompleteResult']> {
  return api.post('/api/v1/datasources/oauth/complete', { body: { state, code } });
}
