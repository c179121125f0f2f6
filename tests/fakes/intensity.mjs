// The NESO Carbon Intensity API's regional endpoint, as real responses have
// it (../shared/PROVIDERS.md): `data` is an object holding the region and
// its half-hours; times are `YYYY-MM-DDThh:mmZ`; at most 14 days a request
// (400 with {"error": {"code", "message"}} past that); a `from` on a
// half-hour boundary also returns the period ending there; regional figures
// are forecasts only.
//
// `fake.value(region, ms)` is the forecast served; `fake.revise[key]`
// overrides one (`${region}:${ms}`); `fake.calls` lists each request.

import { json, listen } from './server.mjs';

const HALF = 1800_000;
const SHORT = { 12: 'South England', 13: 'London' };

export async function carbonIntensity() {
  const fake = await listen((req, res) => {
    const m = /^\/regional\/intensity\/([^/]+)\/([^/]+)\/regionid\/(\d+)$/.exec(req.path);
    if (!m) return json(res, 404, { error: { code: '404 Not Found', message: 'Not found' } });
    const parse = (s) => (/^\d{4}-\d\d-\d\dT\d\d:\d\dZ$/.test(s) ? Date.parse(s.replace('Z', ':00Z')) : NaN);
    const [from, to, region] = [parse(m[1]), parse(m[2]), Number(m[3])];
    if (Number.isNaN(from) || Number.isNaN(to) || to <= from) return json(res, 400, { error: { code: '400 Bad Request', message: 'Please enter a valid date in ISO8601 format' } });
    if (to - from > 14 * 86400_000) return json(res, 400, { error: { code: '400 Bad Request', message: 'Date range must be 14 days or less' } });
    fake.calls.push({ region, from, to });
    const fmt = (t) => new Date(t).toISOString().slice(0, 16) + 'Z';
    const periods = [];
    // The boundary quirk: the half-hour ending at `from` comes first.
    for (let t = Math.ceil(from / HALF) * HALF - HALF; t < to; t += HALF) {
      const key = `${region}:${t}`;
      const forecast = fake.revise[key] ?? fake.value(region, t);
      periods.push({ from: fmt(t), to: fmt(t + HALF), intensity: { forecast, index: forecast < 100 ? 'low' : forecast < 200 ? 'moderate' : 'high' }, generationmix: [{ fuel: 'gas', perc: 40.1 }, { fuel: 'wind', perc: 59.9 }] });
    }
    return json(res, 200, { data: { regionid: region, dnoregion: 'SSE South', shortname: SHORT[region] ?? 'Region', data: periods } });
  });
  fake.calls = [];
  fake.revise = {};
  fake.value = (region, t) => 50 + ((t / HALF + region * 7) % 250);
  return fake;
}
