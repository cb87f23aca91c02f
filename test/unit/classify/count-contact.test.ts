import { describe, expect, it } from 'vitest';
import { countContact, countDeltas, erasedState } from '../../../lib/classify/count-contact.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import type { CountedState } from '../../../lib/store/funnel-store.ts';
import { MemoryFunnelStore } from '../../../lib/store/memory-stores.ts';

const lead: CountedState = {
  stage: 'lead',
  contactable: true,
  stale: false,
  version: 1,
  sequence: 1,
};
const change = (sequence: number, to: 'lead' | 'qualified' | 'prospect', at: string) => ({
  sequence,
  to,
  at,
});

describe('countDeltas', () => {
  it('a new contact: its stage, total and flags in; its first change entered on its day', () => {
    expect(
      countDeltas(undefined, { ...lead, stale: true, contactable: false }, [
        change(1, 'lead', '2025-03-01T23:59:59.000Z'),
      ]),
    ).toEqual({
      current: { lead: 1, total: 1, notContactable: 1, stale: 1 },
      entered: { '2025-03-01': { lead: 1 } },
    });
  });

  it('only the changes after the counted sequence, up to the new one, are entered', () => {
    const next: CountedState = { ...lead, stage: 'prospect', version: 4, sequence: 3 };
    expect(
      countDeltas(lead, next, [
        change(1, 'lead', '2025-03-01T10:00:00.000Z'),
        change(2, 'qualified', '2025-03-01T11:00:00.000Z'),
        change(3, 'prospect', '2025-03-02T09:00:00.000Z'),
        change(4, 'lead', '2025-03-03T09:00:00.000Z'),
      ]),
    ).toEqual({
      current: { lead: -1, prospect: 1 },
      entered: { '2025-03-01': { qualified: 1 }, '2025-03-02': { prospect: 1 } },
    });
  });

  it('a flag change moves only its flag; the same state moves nothing', () => {
    expect(countDeltas(lead, { ...lead, contactable: false, version: 2 }, [])).toEqual({
      current: { notContactable: 1 },
      entered: {},
    });
    expect(countDeltas(lead, { ...lead, version: 2 }, [])).toEqual({ current: {}, entered: {} });
  });

  it('erasure takes the contact and its flags out, and enters nothing', () => {
    const counted: CountedState = { ...lead, stage: 'qualified', stale: true, contactable: false };
    expect(countDeltas(counted, erasedState(2, 1), [])).toEqual({
      current: { qualified: -1, total: -1, notContactable: -1, stale: -1 },
      entered: {},
    });
  });
});

describe('countContact on the memory store', () => {
  const deps = (funnel: MemoryFunnelStore, at = '2025-03-01T12:00:00.000Z') => ({
    funnel,
    now: () => new Date(at),
    logger: silentLogger,
  });

  it('counts a version once, skips older ones, and forgets its tokens after the memory window', async () => {
    const funnel = new MemoryFunnelStore();
    const changes = [
      change(1, 'lead', '2025-03-01T10:00:00.000Z'),
      change(2, 'qualified', '2025-03-01T11:00:00.000Z'),
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
      },
    ]);
    expect(funnel.rememberedTokens()).toBe(2);
    // Two windows later, another contact's settle drops the old tokens from CURRENT.
    await countContact('ct_b', lead, [], deps(funnel, '2025-03-01T12:31:00.000Z'));
    expect(funnel.rememberedTokens()).toBe(2);
    expect(await funnel.current()).toMatchObject({ lead: 1, qualified: 1, total: 2 });
  });
});
