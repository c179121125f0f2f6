// Connecting an OAuth provider the way a user does: authorize, the browser
// at the provider (a fake that consents at once), the callback page, and
// the frontend completing with the relayed state and code.

/** Returns the new datasource's id. */
export async function connectOAuth(worker, api, user, integration) {
  const auth = await api(user, 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: integration });
  if (auth.status !== 201) throw new Error(`authorize: ${auth.status} ${JSON.stringify(auth.body)}`);
  const consent = await fetch(auth.body.authorization_url, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location'));
  const page = await (await fetch(new URL(back.pathname + back.search, worker.url))).text();
  const relayed = JSON.parse(/var result = (\{.*?\});/.exec(page)[1]);
  const done = await api(user, 'POST', '/api/v1/datasources/oauth/complete', { state: relayed.state, code: relayed.code });
  if (![200, 201].includes(done.status)) throw new Error(`complete: ${done.status} ${JSON.stringify(done.body)}`);
  return done.body.datasource.id;
}
