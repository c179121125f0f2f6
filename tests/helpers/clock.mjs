// Tests and the clock: reading it once, polling for what comes later, and
// keeping clear of the boundaries fixed windows turn at.

import assert from 'node:assert/strict';

export const HALF_HOUR = 1800_000;

/** The current time floored to a whole step, from one reading of the clock:
 * `Date.now() - (Date.now() % step)` reads it twice, and when the
 * millisecond turns between the two the result is a millisecond off the
 * boundary, and so is every value of a series built on it. */
export function flooredNow(step = HALF_HOUR) {
  const t = Date.now();
  return t - (t % step);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` until it holds; fails naming `what` after `ms`. */
export async function until(condition, what, ms = 10_000) {
  for (const end = Date.now() + ms; !condition(); await sleep(20)) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
  }
}

/** Waits until `at` ms into the next window of `step` ms (aligned to the
 * clock): 50 starts one fresh, `step - 300` is 300 ms before it turns. */
export function nextWindowAt(step, at) {
  return sleep(step - (Date.now() % step) + at);
}

/**
 * Waits for the next window of `step` ms (aligned to the clock) when less
 * than `margin` ms is left of this one. For counts kept in fixed clock
 * windows (the local rate limiter's minute) and cuts at a UTC midnight: a
 * test whose requests straddle a boundary sees two windows, not one.
 */
export async function awayFromBoundary(step, margin) {
  if (step - (Date.now() % step) < margin) await nextWindowAt(step, 50);
}
