// SQL seeding one user with N datasources shaped like real ones, for the
// authenticated list benchmark. Credentials are opaque envelopes: listing
// never decrypts them.

const INTEGRATIONS = ['octopus-energy', 'openai', 'anthropic', 'xero', 'enphase'];

export function seedSql(userId, n) {
  const rows = [];
  for (let i = 0; i < n; i++) {
    const id = `ds_bench${String(i).padStart(15, '0')}`;
    const integration = INTEGRATIONS[i % INTEGRATIONS.length];
    const oauth = integration === 'xero' || integration === 'enphase';
    const created = new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const settings = JSON.stringify({ site: `Site ${i}`, provider: { account_number: 'A-1B2C3D4E', meter_points: [{ type: 'electricity', mpan: '1012345678901' }] } });
    const envelope = `v1.0badc0de.${'A'.repeat(16)}.${'B'.repeat(120)}`;
    rows.push(
      `('${id}', '${userId}', '${integration}', 'Site ${i}', '${oauth ? 'oauth2' : 'api_key'}', 'active', NULL, '${settings}', 1440, 1, '${envelope}', 1, '${oauth ? 'OAuth authorisation' : 'API key ••••1a2b'}', ${oauth ? `'2026-12-01T00:00:00Z'` : 'NULL'}, NULL, '${created}', '${created}')`,
    );
  }
  return `INSERT INTO datasources (id, user_id, integration_id, display_name, auth_type, status, last_error, settings,
  sync_frequency_minutes, enabled, credentials, credentials_version, credential_hint, token_expires_at, last_synced_at,
  created_at, updated_at) VALUES\n${rows.join(',\n')};\n`;
}
