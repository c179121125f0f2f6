// Usage and cost reports of the OpenAI and Anthropic Admin APIs, in their
// documented shapes (../shared/PROVIDERS.md): day buckets (the first starts
// at the requested start, later ones at 00:00 UTC), `limit` (default 7, at
// most 31 for 1d; costs up to 180 on OpenAI), `has_more` with an opaque
// `next_page`, empty buckets with `results: []`, OpenAI input tokens
// including cached ones, Anthropic input split into uncached, cache reads
// and cache writes, OpenAI costs in dollars, Anthropic costs as a decimal
// string in cents.
//
// `fake.usage[day][model] = { input, output, embedding, cost }` (day
// `YYYY-MM-DD`, UTC); `fake.throttleUsage` answers that many 429s first;
// `fake.usageRequests` records each report request's period.

const DAY = 86400_000;

function buckets(fake, from, to, limit, row) {
  const out = [];
  let start = from;
  while (start < to && out.length < limit) {
    const next = Math.min(Math.floor(start / DAY) * DAY + DAY, to);
    const day = new Date(start).toISOString().slice(0, 10);
    const models = fake.usage[day] ?? {};
    out.push({ start, end: next, results: Object.entries(models).flatMap(([model, u]) => row(model, u)) });
    start = next;
  }
  return { out, more: start < to };
}

/** Answers a usage or cost request, or returns false when the path is not one. */
export function openaiUsage(fake, req, res, json) {
  const m = /^\/v1\/organization\/(usage\/(completions|embeddings)|costs)$/.exec(req.path);
  if (!m) return false;
  if (fake.throttleUsage > 0) {
    fake.throttleUsage -= 1;
    json(res, 429, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '1' });
    return true;
  }
  const q = req.query;
  if (!q.start_time) return json(res, 400, { error: { message: "Missing required parameter: 'start_time'.", type: 'invalid_request_error' } }) || true;
  const costs = m[1] === 'costs';
  const limit = Number(q.limit ?? 7);
  if (limit < 1 || limit > (costs ? 180 : 31)) return json(res, 400, { error: { message: 'Invalid limit', type: 'invalid_request_error' } }) || true;
  const from = Number(q.start_time) * 1000;
  const to = q.end_time ? Number(q.end_time) * 1000 : Date.now();
  fake.usageRequests.push({ report: m[1], from, to });
  const grouped = costs ? q.group_by === 'line_item' : q.group_by === 'model';
  const { out, more } = buckets(fake, from, to, limit, (model, u) => {
    if (costs) return [{ object: 'organization.costs.result', amount: { value: u.cost ?? 0, currency: 'usd' }, line_item: grouped ? `${model}, input` : null, project_id: null }];
    const embeddings = m[2] === 'embeddings';
    if (embeddings && !u.embedding) return [];
    return [{ object: `organization.usage.${m[2]}.result`, input_tokens: embeddings ? u.embedding : u.input, ...(embeddings ? {} : { input_cached_tokens: Math.floor(u.input / 3), output_tokens: u.output, input_audio_tokens: 0, output_audio_tokens: 0 }), num_model_requests: 3, project_id: null, user_id: null, api_key_id: null, model: grouped ? model : null, batch: null }];
  });
  json(res, 200, {
    object: 'page',
    data: out.map((b) => ({ object: 'bucket', start_time: b.start / 1000, end_time: b.end / 1000, results: b.results })),
    has_more: more,
    next_page: more ? Buffer.from(String(out.at(-1).end)).toString('base64') : null,
  });
  return true;
}

export function anthropicUsage(fake, req, res, json) {
  const m = /^\/v1\/organizations\/(usage_report\/messages|cost_report)$/.exec(req.path);
  if (!m) return false;
  if (fake.throttleUsage > 0) {
    fake.throttleUsage -= 1;
    json(res, 429, { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limited' } }, { 'retry-after': '1' });
    return true;
  }
  const q = req.query;
  if (!q.starting_at) return json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'starting_at: Field required' } }) || true;
  const costs = m[1] === 'cost_report';
  const limit = Number(q.limit ?? 7);
  if (limit < 1 || limit > 31) return json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'limit: out of range' } }) || true;
  const from = Date.parse(q.starting_at);
  const to = q.ending_at ? Date.parse(q.ending_at) : Date.now();
  fake.usageRequests.push({ report: m[1], from, to });
  const grouped = costs ? q['group_by[]'] === 'description' : q['group_by[]'] === 'model';
  const { out, more } = buckets(fake, from, to, limit, (model, u) => {
    if (costs) return [{ amount: ((u.cost ?? 0) * 100).toFixed(5), currency: 'USD', description: grouped ? `${model} Usage - Input Tokens` : null, cost_type: 'tokens', model: grouped ? model : null, token_type: grouped ? 'uncached_input_tokens' : null, workspace_id: null }];
    const reads = Math.floor(u.input / 4);
    const writes = Math.floor(u.input / 8);
    return [{ uncached_input_tokens: u.input - reads - 2 * writes, cache_creation: { ephemeral_1h_input_tokens: writes, ephemeral_5m_input_tokens: writes }, cache_read_input_tokens: reads, output_tokens: u.output, server_tool_use: { web_search_requests: 0 }, api_key_id: null, workspace_id: null, model: grouped ? model : null, service_tier: null, context_window: null }];
  });
  const iso = (t) => new Date(t).toISOString().replace('.000', '');
  json(res, 200, {
    data: out.map((b) => ({ starting_at: iso(b.start), ending_at: iso(b.end), results: b.results })),
    has_more: more,
    next_page: more ? `page_${Buffer.from(iso(out.at(-1).end)).toString('base64')}` : null,
  });
  return true;
}
