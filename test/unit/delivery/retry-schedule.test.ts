import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  JITTER_FRACTION,
  nextRetryDelay,
} from '../../../lib/delivery/retry-schedule.ts';

const middle = () => 0.5;

describe('nextRetryDelay', () => {
  it('follows 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after attempts 1 to 7, then stops', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map(
      (attempts) =>
        nextRetryDelay(attempts, DEFAULT_RETRY_SCHEDULE_SECONDS, { random: middle }).delayMs,
    );
    expect(delays).toEqual([
      5_000,
      300_000,
      1_800_000,
      7_200_000,
      18_000_000,
      36_000_000,
      36_000_000,
      undefined,
    ]);
  });

  it('spreads each wait by at most ±10 %', () => {
    const low = nextRetryDelay(2, DEFAULT_RETRY_SCHEDULE_SECONDS, { random: () => 0 }).delayMs;
    const high = nextRetryDelay(2, DEFAULT_RETRY_SCHEDULE_SECONDS, {
      random: () => 0.999999,
    }).delayMs;
    expect(low).toBe(300_000 * (1 - JITTER_FRACTION));
    expect(high).toBeLessThanOrEqual(300_000 * (1 + JITTER_FRACTION));
    expect(high).toBeGreaterThan(329_000);
  });

  it('honours a longer Retry-After, never a shorter one', () => {
    expect(
      nextRetryDelay(1, DEFAULT_RETRY_SCHEDULE_SECONDS, { random: middle, retryAfterMs: 60_000 })
        .delayMs,
    ).toBe(60_000);
    expect(
      nextRetryDelay(2, DEFAULT_RETRY_SCHEDULE_SECONDS, { random: middle, retryAfterMs: 1_000 })
        .delayMs,
    ).toBe(300_000);
  });

  it('clamps a Retry-After to the longest step of the schedule', () => {
    expect(
      nextRetryDelay(1, DEFAULT_RETRY_SCHEDULE_SECONDS, {
        random: middle,
        retryAfterMs: 30 * 86_400_000,
      }).delayMs,
    ).toBe(36_000_000);
  });

  it('takes a configured schedule', () => {
    expect(nextRetryDelay(1, [1, 2], { random: middle }).delayMs).toBe(1_000);
    expect(nextRetryDelay(3, [1, 2], { random: middle }).delayMs).toBeUndefined();
  });
});
