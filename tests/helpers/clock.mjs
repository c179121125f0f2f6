// The current time floored to a whole step (a half-hour, for series). One
// reading of the clock: `Date.now() - (Date.now() % step)` reads it twice,
// and when the millisecond turns between the two the result is a
// millisecond off the boundary, so every value of a series built on it is
// too (a flake once in a few thousand runs, and wrong expected figures).

export const HALF_HOUR = 1800_000;

export function flooredNow(step = HALF_HOUR) {
  const t = Date.now();
  return t - (t % step);
}

/**
 * Waits for the next window of `step` ms (aligned to the clock) when less
 * than `margin` ms is left of this one. For counts kept in fixed clock
 * windows (the local rate limiter's minute) and cuts at a UTC midnight: a
 * test whose requests straddle a boundary sees two windows, not one.
 */
export async function awayFromBoundary(step, margin) {
  const left = step - (Date.now() % step);
  if (left < margin) await new Promise((r) => setTimeout(r, left + 50));
}
