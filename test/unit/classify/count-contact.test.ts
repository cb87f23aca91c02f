import { describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import {
  CountTooSlowError,
  countContact,
  countDeltas,
  erasedState,
} from '../../../lib/classify/count-contact.ts';
import type { Stage } from '../../../lib/domain/stage.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import {
  APPLY_WINDOW_MS,
  type ApplyOptions,
  type CountedState,
  type CountIntent,
  countToken,
  type FunnelStore,
  RECENT_SET_MS,
  shardOf,
  TOKEN_MEMORY_MS,
} from '../../../lib/store/funnel-store.ts';
import { MemoryFunnelStore } from '../../../lib/store/memory-stores.ts';
import { classifyFixture, formEvent } from '../support/classify.ts';

const lead: CountedState = {
  stage: 'lead',
  contactable: true,
  stale: false,
  version: 1,
  sequence: 1,
};
const change = (sequence: number, from: Stage | null, to: Stage, at: string) => ({
  sequence,
  from,
  to,
  at,
});

describe('countDeltas', () => {
  it('a new contact: its stage, total and flags in; its first change entered on its day', () => {
    expect(
      countDeltas(undefined, { ...lead, stale: true, contactable: false }, [
        change(1, null, 'lead', '2025-03-01T23:59:59.000Z'),
      ]),
    ).toEqual({
      current: { lead: 1, total: 1, notContactable: 1, stale: 1 },
      entered: { '2025-03-01': { lead: 1 } },
      reached: { '2025-03-01': { lead: 1 } },
    });
  });

  it('only the changes after the counted sequence, up to the new one, are entered', () => {
    const next: CountedState = { ...lead, stage: 'prospect', version: 4, sequence: 3 };
    expect(
      countDeltas(lead, next, [
        change(1, null, 'lead', '2025-03-01T10:00:00.000Z'),
        change(2, 'lead', 'qualified', '2025-03-01T11:00:00.000Z'),
        change(3, 'qualified', 'prospect', '2025-03-02T09:00:00.000Z'),
        change(4, 'prospect', 'lead', '2025-03-03T09:00:00.000Z'),
      ]),
    ).toEqual({
      current: { lead: -1, prospect: 1 },
      entered: { '2025-03-01': { qualified: 1 }, '2025-03-02': { prospect: 1 } },
      reached: { '2025-03-01': { qualified: 1 }, '2025-03-02': { prospect: 1 } },
    });
  });

  it('a flag change moves only its flag; the same state moves nothing', () => {
    expect(countDeltas(lead, { ...lead, contactable: false, version: 2 }, [])).toEqual({
      current: { notContactable: 1 },
      entered: {},
      reached: {},
    });
    expect(countDeltas(lead, { ...lead, version: 2 }, [])).toEqual({
      current: {},
      entered: {},
      reached: {},
    });
  });

  it('erasure takes the contact and its flags out, and enters nothing', () => {
    const counted: CountedState = { ...lead, stage: 'qualified', stale: true, contactable: false };
    expect(countDeltas(counted, erasedState(2, 1), [])).toEqual({
      current: { qualified: -1, total: -1, notContactable: -1, stale: -1 },
      entered: {},
      reached: {},
    });
  });

  it('a new contact straight to prospect reaches lead, qualified and prospect', () => {
    const next: CountedState = { ...lead, stage: 'prospect' };
    expect(
      countDeltas(undefined, next, [change(1, null, 'prospect', '2025-03-01T10:00:00.000Z')]),
    ).toEqual({
      current: { prospect: 1, total: 1 },
      entered: { '2025-03-01': { prospect: 1 } },
      reached: { '2025-03-01': { lead: 1, qualified: 1, prospect: 1 } },
    });
  });

  it('qualified to sales_ready reaches prospect and sales_ready, not what it had passed', () => {
    const counted: CountedState = { ...lead, stage: 'qualified', version: 2, sequence: 2 };
    const next: CountedState = { ...counted, stage: 'sales_ready', version: 3, sequence: 3 };
    expect(
      countDeltas(counted, next, [
        change(3, 'qualified', 'sales_ready', '2025-03-04T08:00:00.000Z'),
      ]),
    ).toEqual({
      current: { qualified: -1, sales_ready: 1 },
      entered: { '2025-03-04': { sales_ready: 1 } },
      reached: { '2025-03-04': { prospect: 1, sales_ready: 1 } },
    });
  });

  it('a move back, and a move into disqualified, are entered but reach nothing', () => {
    const counted: CountedState = { ...lead, stage: 'prospect', version: 2, sequence: 2 };
    const back: CountedState = { ...counted, stage: 'lead', version: 3, sequence: 3 };
    expect(
      countDeltas(counted, back, [change(3, 'prospect', 'lead', '2025-03-05T08:00:00.000Z')]),
    ).toEqual({
      current: { prospect: -1, lead: 1 },
      entered: { '2025-03-05': { lead: 1 } },
      reached: {},
    });
    const out: CountedState = { ...counted, stage: 'disqualified', version: 3, sequence: 3 };
    expect(
      countDeltas(counted, out, [
        change(3, 'prospect', 'disqualified', '2025-03-05T08:00:00.000Z'),
      ]),
    ).toEqual({
      current: { prospect: -1, disqualified: 1 },
      entered: { '2025-03-05': { disqualified: 1 } },
      reached: {},
    });
    // A new contact disqualified at once is not on the path either.
    expect(
      countDeltas(undefined, { ...lead, stage: 'disqualified' }, [
        change(1, null, 'disqualified', '2025-03-05T08:00:00.000Z'),
      ]).reached,
    ).toEqual({});
  });
});

/** `target` with some methods replaced; the others still run on `target` itself. */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (property in overrides) return overrides[property as keyof T];
      const value = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

describe('countContact on the memory store', () => {
  const deps = (funnel: MemoryFunnelStore, at = '2025-03-01T12:00:00.000Z') => ({
    funnel,
    now: () => new Date(at),
    logger: silentLogger,
  });

  it('counts a version once and skips older ones', async () => {
    const funnel = new MemoryFunnelStore();
    const changes = [
      change(1, null, 'lead', '2025-03-01T10:00:00.000Z'),
      change(2, 'lead', 'qualified', '2025-03-01T11:00:00.000Z'),
    ];
    const second: CountedState = { ...lead, stage: 'qualified', version: 2, sequence: 2 };
    expect(await countContact('ct_a', second, changes, deps(funnel))).toBe('counted');
    expect(await countContact('ct_a', second, changes, deps(funnel))).toBe('already_counted');
    expect(await countContact('ct_a', lead, changes, deps(funnel))).toBe('already_counted');
    expect(await funnel.current()).toMatchObject({ lead: 0, qualified: 1, total: 1 });
    expect(await funnel.enteredByDay('2025-03-01', '2025-03-01')).toEqual([
      {
        day: '2025-03-01',
        entered: { lead: 1, qualified: 1, prospect: 0, sales_ready: 0, disqualified: 0 },
        reached: { lead: 1, qualified: 1, prospect: 0, sales_ready: 0 },
      },
    ]);
    // One token on each of the two counter items it moved (CURRENT and the day, one shard).
    expect(funnel.rememberedTokens()).toBe(2);
  });

  it('a counter item remembers a settled token TOKEN_MEMORY_MS at least, and one set width more at most', async () => {
    const funnel = new MemoryFunnelStore();
    const intent = (contactId: string): CountIntent => ({
      token: countToken(contactId, 1),
      deltas: { current: { lead: 1, total: 1 }, entered: {} },
    });
    // Contacts whose changes land on the same shard as the first one's.
    const first = intent('ct_first');
    const sameShard = Array.from({ length: 400 }, (_, i) => intent(`ct_other${i}`)).filter(
      (other) => shardOf(other.token) === shardOf(first.token),
    );
    expect(sameShard.length).toBeGreaterThan(2);
    const settledAt = Date.parse('2025-03-01T12:00:14.000Z');
    await funnel.apply(first);
    await funnel.settle('ct_first', first, new Date(settledAt));
    // Others settle on that item every second; the first token's repeat is refused throughout.
    let i = 0;
    for (let at = settledAt; at <= settledAt + TOKEN_MEMORY_MS; at += 1000) {
      const other = sameShard[i++ % sameShard.length] as CountIntent;
      await funnel.settle('ct_other', other, new Date(at));
      await funnel.apply(first);
    }
    expect((await funnel.current()).total).toBe(1);
    // A write one set width after the memory drops the token's set: a repeat now would count
    // again (which is why no worker applies what it read APPLY_WINDOW_MS ago or more).
    await funnel.settle(
      'ct_other',
      sameShard[0] as CountIntent,
      new Date(settledAt + TOKEN_MEMORY_MS + RECENT_SET_MS),
    );
    await funnel.apply(first);
    expect((await funnel.current()).total).toBe(2);
    expect(APPLY_WINDOW_MS * 4).toBeLessThanOrEqual(TOKEN_MEMORY_MS);
  });
});

describe('the apply window', () => {
  const claimedLead = async (funnel: MemoryFunnelStore, contactId: string) => {
    const pending: CountIntent = {
      token: countToken(contactId, 1),
      deltas: { current: { lead: 1, total: 1 }, entered: { '2025-03-01': { lead: 1 } } },
    };
    expect(await funnel.claim(contactId, { ...lead, pending }, undefined)).toBe(true);
    return pending;
  };

  /** A funnel store that records each apply, and a monotonic clock the test moves. */
  const instrumented = (funnel: MemoryFunnelStore) => {
    const clock = { ms: 0 };
    const applies: { token: string; signal: AbortSignal | undefined }[] = [];
    const recording = (counted: FunnelStore['counted']) =>
      overriding<FunnelStore>(funnel, {
        counted,
        apply: async (intent: CountIntent, options?: ApplyOptions) => {
          applies.push({ token: intent.token, signal: options?.abortSignal });
          return funnel.apply(intent, options);
        },
      });
    return { recording, clock, applies, monotonicMs: () => clock.ms };
  };

  it('a worker whose read of the marker is older than the window reads again instead of applying it', async () => {
    const funnel = new MemoryFunnelStore();
    const pending = await claimedLead(funnel, 'ct_slow');
    const { recording, clock, applies, monotonicMs } = instrumented(funnel);
    let reads = 0;
    const store = recording(async (contactId) => {
      const marker = await funnel.counted(contactId);
      if (++reads === 1) {
        // This read took too long; meanwhile another worker finished the pending change.
        clock.ms += APPLY_WINDOW_MS + 1;
        await funnel.apply(pending);
        await funnel.settle(contactId, pending, new Date('2025-03-01T12:00:00.000Z'));
      }
      return marker;
    });
    const next: CountedState = { ...lead, stage: 'qualified', version: 2, sequence: 2 };
    const result = await countContact(
      'ct_slow',
      next,
      [change(2, 'lead', 'qualified', '2025-03-01T12:00:00.000Z')],
      {
        funnel: store,
        now: () => new Date('2025-03-01T12:00:00.000Z'),
        logger: silentLogger,
        monotonicMs,
      },
    );
    expect(result).toBe('counted');
    expect(reads).toBe(2);
    // The slow worker applied only its own change, never the one it read too long ago.
    expect(applies.map((apply) => apply.token)).toEqual([countToken('ct_slow', 2)]);
    expect(await funnel.current()).toMatchObject({ lead: 0, qualified: 1, total: 1 });
  });

  it('a worker that keeps missing the window gives up (the message comes back) and moves nothing', async () => {
    const funnel = new MemoryFunnelStore();
    await claimedLead(funnel, 'ct_stuck');
    const { recording, clock, applies, monotonicMs } = instrumented(funnel);
    const store = recording(async (contactId) => {
      clock.ms += APPLY_WINDOW_MS;
      return funnel.counted(contactId);
    });
    await expect(
      countContact('ct_stuck', { ...lead, version: 2 }, [], {
        funnel: store,
        now: () => new Date('2025-03-01T12:00:00.000Z'),
        logger: silentLogger,
        monotonicMs,
      }),
    ).rejects.toBeInstanceOf(CountTooSlowError);
    expect(applies).toEqual([]);
    expect((await funnel.current()).total).toBe(0);
  });

  it('the apply requests are aborted at the end of the window', async () => {
    const funnel = new MemoryFunnelStore();
    const clock = { ms: 0 };
    const signals: (AbortSignal | undefined)[] = [];
    const store = overriding<FunnelStore>(funnel, {
      claim: async (contactId, marker, expectedVersion) => {
        const claimed = await funnel.claim(contactId, marker, expectedVersion);
        // The claim took all but 30 ms of the window.
        clock.ms += APPLY_WINDOW_MS - 30;
        return claimed;
      },
      apply: async (intent, options) => {
        signals.push(options?.abortSignal);
        return funnel.apply(intent, options);
      },
    });
    await countContact('ct_late', lead, [], {
      funnel: store,
      now: () => new Date('2025-03-01T12:00:00.000Z'),
      logger: silentLogger,
      monotonicMs: () => clock.ms,
    });
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(signals[0]?.aborted).toBe(true);
  });
});

describe('the projections of a commit', () => {
  it('do not return while the count is still writing, even when another projection failed', async () => {
    const f = await classifyFixture();
    const events: string[] = [];
    const history = overriding(f.history, {
      putStageChange: async () => {
        throw new Error('history write failed');
      },
    });
    const funnel = overriding<FunnelStore>(f.funnel, {
      apply: async (intent, options) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await f.funnel.apply(intent, options);
        events.push('counted');
      },
    });
    // The commit lands; of its projections, the history write fails at once.
    await expect(applyEvent(formEvent('evt_1'), { ...f.deps, history, funnel })).rejects.toThrow(
      'history write failed',
    );
    events.push('returned');
    expect(events).toEqual(['counted', 'returned']);
    expect((await f.funnel.current()).total).toBe(1);
  });
});
