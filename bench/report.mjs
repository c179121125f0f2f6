// The printed report of `npm run bench`: bundle, start-up, the request
// table with its floors, issue 12's targets, and the sync, emissions and
// webhook tables.

import { syncTable } from './sync.mjs';
import { webhookTable } from './webhooks.mjs';

export function table(result) {
  const lines = [];
  const b = result.bundle;
  lines.push(`Bundle: wasm ${b.wasm.raw} B (gzip -9 ${b.wasm.gzip} B), JS ${b.js.raw} B (gzip -9 ${b.js.gzip} B)`);
  if (result.startup) {
    lines.push(
      `Start-up (median of ${result.settings.cold_starts}): ${result.startup.ms.toFixed(0)} ms from spawning workerd to the first two answers; ` +
        (result.startup.workerdFirstMs === undefined ? '' : `the client's first request (to the JS floor) ${result.startup.workerdFirstMs.toFixed(1)} ms; `) +
        `then the Worker's first request (GET /api/v1/integrations) ${result.startup.firstRequestMs.toFixed(1)} ms; ` +
        `then the first D1 request (GET /api/v1/health) ${result.startup.firstD1Ms.toFixed(1)} ms` +
        (result.startup.floorFirstMs === undefined ? '' : `; the Rust floor's first request ${result.startup.floorFirstMs.toFixed(1)} ms`),
    );
  }
  if (result.scenarios) {
    lines.push(`Load: ${result.settings.rounds} rounds x ${result.settings.duration_ms} ms per scenario, concurrency ${result.settings.concurrency}, closed loop, medians across rounds`);
    lines.push('');
    lines.push('Server CPU: workerd\'s user + system time over the measured window, per request answered (all of workerd: HTTP, the Worker, local D1).');
    lines.push('Ratios are paired per round and the median taken: req/s against the JS floor, CPU against the Rust floor.');
    lines.push('');
    lines.push('| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | req/s ÷ JS floor | CPU ÷ Rust floor | D1 statements/req | body B | errors |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const fixed = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : '-');
    for (const s of result.scenarios) {
      lines.push(
        `| ${s.name} | ${s.rps.toFixed(0)} | ${s.p50_ms.toFixed(3)} | ${s.p99_ms.toFixed(3)} | ${fixed(s.cpu_us, 0)} | ${fixed(s.rps_vs_js, 2)} | ${fixed(s.cpu_vs_rust, 2)} | ${s.d1_statements ?? '-'} | ${s.body_bytes ?? '-'} | ${s.errors} |`,
      );
    }
  }
  const targets = targetRows(result);
  if (targets.length) {
    lines.push('');
    lines.push('Targets (issue 12), from this run. "The floor itself" is what the matching floor measured on the same');
    lines.push('measure in this run: a target the floor itself misses is out of reach of any Worker of that kind here.');
    lines.push('');
    lines.push('| target | measured | met | the floor itself |');
    lines.push('| --- | ---: | --- | ---: |');
    for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} | ${t.floor ?? '-'} |`);
  }
  if (result.sync) {
    lines.push('');
    lines.push(syncTable(result.sync));
  }
  if (result.webhooks) {
    lines.push('');
    lines.push(webhookTable(result.webhooks));
  }
  return lines.join('\n');
}

/** Issue 12's targets against what this run measured (those it measured). */
function targetRows(result) {
  const rows = [];
  const fmt = (value, unit) => `${value.toFixed(unit === 'x' ? 2 : unit === 'KB' ? 1 : 0)} ${unit}`;
  const add = (target, value, unit, met, floor) =>
    Number.isFinite(value) &&
    rows.push({ target, measured: fmt(value, unit), met, floor: Number.isFinite(floor?.value) ? `${fmt(floor.value, unit)} (${floor.name})` : undefined });
  const find = (route) => result.scenarios?.find((s) => s.name === route);
  const catalog = find('GET /api/v1/integrations');
  const list = find('GET /api/v1/datasources (auth + D1, 20 rows)');
  const rust = result.scenarios?.find((s) => s.floor === 'rust');
  const d1 = result.scenarios?.find((s) => s.floor === 'd1');
  if (catalog) {
    add('catalog: server CPU ≤ 1.25x the Rust floor', catalog.cpu_vs_rust, 'x', catalog.cpu_vs_rust <= 1.25);
    add('catalog: req/s ≥ 0.65x the JS floor', catalog.rps_vs_js, 'x', catalog.rps_vs_js >= 0.65, { name: 'Rust floor', value: rust?.rps_vs_js });
  }
  if (list) {
    add('datasource list: 1 D1 statement', list.d1_statements, 'statements', list.d1_statements === 1);
    add('datasource list: server CPU ≤ 1,800 µs', list.cpu_us, 'µs', list.cpu_us <= 1800, { name: 'JS + D1 floor', value: d1?.cpu_us });
    add('datasource list: req/s ≥ 0.16x the JS floor', list.rps_vs_js, 'x', list.rps_vs_js >= 0.16, { name: 'JS + D1 floor', value: d1?.rps_vs_js });
  }
  if (result.startup) {
    add('first request after start ≤ 15 ms', result.startup.firstRequestMs, 'ms', result.startup.firstRequestMs <= 15, { name: 'Rust floor', value: result.startup.floorFirstMs });
  }
  add('wasm ≤ 450 KB gzip -9', result.bundle.wasm.gzip / 1000, 'KB', result.bundle.wasm.gzip <= 450_000);
  return rows;
}

