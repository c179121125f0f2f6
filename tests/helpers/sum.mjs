// Reference sums for emissions tests: Neumaier (compensated) summation, so
// the expected totals are exact to far better than the 1e-9 they are
// compared at, whatever the order or size of the terms.

export function preciseSum(xs) {
  let s = 0;
  let c = 0;
  for (const x of xs) {
    const t = s + x;
    c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
    s = t;
  }
  return s + c;
}
