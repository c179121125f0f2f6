// The emissions part of the sync scenario: a year of half-hourly values
// (17,520) already synced, its emission lines recomputed whole through the
// API. PUT /datasources/{id} with new emissions settings recomputes every
// line before it answers (one D1 read of the kinds, one batch of the factor
// rows and the lines), so its wall time, less a PUT that changes only the
// name, is the time to compute a year's emissions. Pinning an edition
// restates all 1,825 lines (5 per UTC day); PUTting the same settings again
// recomputes them and changes nothing. The pinned total is checked against
// the published 2024 factor times the fake's values.

const REPS = 5;
const GEN_2024 = 0.20705; // DESNZ 2024 UK electricity generation, kg CO2e/kWh

const now = () => performance.timeOrigin + performance.now();

export async function emissionsBench({ call, user, id, series, median }) {
  const timed = async (body) => {
    const t0 = now();
    const res = await call(user, 'PUT', `/api/v1/datasources/${id}`, body);
    const ms = now() - t0;
    if (res.status !== 200) throw new Error(`PUT ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
    return ms;
  };
  const rename = [], pin = [], same = [], unpin = [];
  for (let i = 0; i < REPS; i++) {
    rename.push(await timed({ display_name: `Bench ${i}` }));
    pin.push(await timed({ settings: { emission_factor_edition: 'desnz-2024' } }));
    same.push(await timed({ settings: { emission_factor_edition: 'desnz-2024' } }));
    unpin.push(await timed({ settings: {} }));
  }
  await timed({ settings: { emission_factor_edition: 'desnz-2024' } });
  const from = new Date(series[0][0]).toISOString().slice(0, 10);
  const to = new Date(series.at(-1)[0] + 86400_000).toISOString().slice(0, 10);
  const t = (await call(user, 'GET', `/api/v1/emissions/summary?datasource_id=${id}&from=${from}&to=${to}`)).body.totals;
  const want = series.reduce((s, [, q]) => s + q * GEN_2024, 0);
  if (Math.abs(t.scope_2_location - want) > want * 1e-9) throw new Error(`pinned total ${t.scope_2_location}, expected ${want}`);
  const lines = (await call(user, 'GET', `/api/v1/emissions?datasource_id=${id}&from=${from}&to=${to}&per_page=1`)).body.pagination.total;
  const m = (xs) => median(xs);
  return {
    intervals: series.length,
    lines,
    reps: REPS,
    rename_ms: m(rename),
    recompute_restating_ms: m(pin),
    recompute_unchanged_ms: m(same),
    recompute_back_ms: m(unpin),
    compute_ms: m(pin) - m(rename),
    total_checked: true,
  };
}

export function emissionsTable(e) {
  return [
    `Emissions: a year of half-hourly values (${e.intervals}) recomputed whole into ${e.lines} lines by PUT /datasources/{id} (medians of ${e.reps}; the pinned total checked against the published factor)`,
    '',
    '| PUT | ms |',
    '| --- | ---: |',
    `| name only (no emissions work) | ${e.rename_ms.toFixed(0)} |`,
    `| pin an edition: every line restated | ${e.recompute_restating_ms.toFixed(0)} |`,
    `| the same settings again: nothing changes | ${e.recompute_unchanged_ms.toFixed(0)} |`,
    `| unpin | ${e.recompute_back_ms.toFixed(0)} |`,
    `| **time to compute a year's emissions** (pin less name-only) | **${e.compute_ms.toFixed(0)}** |`,
  ].join('\n');
}
