import { z } from 'zod';

/**
 * Seconds to wait after each failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, as
 * Svix does. Eight attempts over about 27 hours, so a subscriber down for a day still gets
 * every change.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;

export const retryScheduleSchema = z
  .array(
    z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400),
  )
  .min(1)
  .max(20)
  .default([...DEFAULT_RETRY_SCHEDULE_SECONDS]);

/** How far each wait is spread (±), so retries after an outage do not arrive all at once. */
export const JITTER_FRACTION = 0.1;

export interface RetryDecision {
  /** Milliseconds until the next attempt, or undefined when the schedule is exhausted. */
  delayMs: number | undefined;
}

/**
 * The wait before attempt `attemptsMade + 1`, given that `attemptsMade` attempts failed.
 * A subscriber's `Retry-After` is honoured (never retried sooner than it asks) but clamped to
 * the longest step of the schedule, so a hostile or broken value cannot park a delivery forever.
 *
 * @param random a number in [0, 1), injectable for tests
 */
export function nextRetryDelay(
  attemptsMade: number,
  schedule: readonly number[],
  options: { retryAfterMs?: number; random?: () => number } = {},
): RetryDecision {
  const step = schedule[attemptsMade - 1];
  if (step === undefined) return { delayMs: undefined };
  const random = options.random ?? Math.random;
  const jittered = step * 1000 * (1 + JITTER_FRACTION * (2 * random() - 1));
  const longest = Math.max(...schedule) * 1000;
  const asked = options.retryAfterMs === undefined ? 0 : Math.min(options.retryAfterMs, longest);
  return { delayMs: Math.round(Math.max(jittered, asked)) };
}
