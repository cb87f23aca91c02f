import { describe, expect, it } from 'vitest';
import type { LeadEvent } from '../../../lib/domain/events.ts';
import { type ContactFacts, emptyFacts, mergeFacts } from '../../../lib/domain/facts.ts';

function form(
  id: string,
  occurredAt: string,
  profile: Extract<LeadEvent, { kind: 'form_submitted' }>['profile'] = {},
): LeadEvent {
  return {
    kind: 'form_submitted',
    id,
    occurredAt,
    email: 'anna@example.com',
    source: 'form:contact',
    formId: 'contact',
    profile,
  };
}

/** Applies events in the given order to a fresh contact first seen by the first event. */
function mergeAll(events: LeadEvent[]): ContactFacts {
  const [first] = events;
  if (first === undefined) throw new Error('no events');
  return events.reduce((facts, event) => mergeFacts(facts, event), emptyFacts(first.email));
}

const early = form('evt_a', '2025-01-01T10:00:00.000Z', { name: 'Anna', company: 'Old GmbH' });
const late = form('evt_b', '2025-02-01T10:00:00.000Z', { company: 'New GmbH' });
const middle = form('evt_c', '2025-01-15T10:00:00.000Z', { name: 'Anna Schmidt' });

describe('mergeFacts', () => {
  it('keeps the value of the latest event by occurredAt, whatever the arrival order', () => {
    const inOrder = mergeAll([early, middle, late]);
    const reversed = mergeAll([late, middle, early]);
    const shuffled = mergeAll([middle, early, late]);
    expect(inOrder.profile.company).toEqual({
      value: 'New GmbH',
      at: late.occurredAt,
      by: 'evt_b',
    });
    expect(inOrder.profile.name).toEqual({
      value: 'Anna Schmidt',
      at: middle.occurredAt,
      by: 'evt_c',
    });
    expect(reversed).toEqual(inOrder);
    expect(shuffled).toEqual(inOrder);
  });

  it('breaks a tie of equal times by event id, the same in either order', () => {
    const at = '2025-01-01T10:00:00.000Z';
    const x = form('evt_x', at, { company: 'X AG' });
    const y = form('evt_y', at, { company: 'Y AG' });
    const xy = mergeAll([x, y]);
    const yx = mergeAll([y, x]);
    expect(xy.profile.company?.value).toBe('Y AG');
    expect(yx.profile.company?.value).toBe('Y AG');
    expect(xy).toEqual(yx);
  });

  it('ignores empty profile values rather than overwriting with them', () => {
    const facts = mergeAll([early, form('evt_z', '2025-03-01T00:00:00.000Z', { name: '' })]);
    expect(facts.profile.name?.value).toBe('Anna');
  });

  it('counts events per kind', () => {
    expect(mergeAll([early]).counts).toEqual({ form_submitted: 1 });
    expect(mergeAll([early, middle, late]).counts).toEqual({ form_submitted: 3 });
  });

  it('keeps the earliest and latest event times as first and last seen', () => {
    for (const order of [
      [early, middle, late],
      [late, early, middle],
      [middle, late, early],
    ]) {
      const facts = mergeAll(order);
      expect(facts.firstSeenAt).toBe(early.occurredAt);
      expect(facts.lastSeenAt).toBe(late.occurredAt);
    }
  });

  it('does not change the facts it was given', () => {
    const before = mergeAll([early]);
    const snapshot = structuredClone(before);
    mergeFacts(before, late);
    expect(before).toEqual(snapshot);
  });

  // occurredAt is validated as ISO-8601 *with offsets allowed* and any fraction precision
  // (lib/domain/events.ts), so events from providers need not share one string format.
  it('compares event times as instants when one has fractional seconds and one has not', () => {
    const whole = form('evt_b1', '2025-01-01T10:00:00Z', { company: 'Earlier AG' });
    const fraction = form('evt_a1', '2025-01-01T10:00:00.500Z', { company: 'Later AG' });
    const facts = mergeAll([whole, fraction]);
    expect(facts.profile.company?.value).toBe('Later AG');
    expect(facts.lastSeenAt).toBe(fraction.occurredAt);
    expect(mergeAll([fraction, whole])).toEqual(facts);
  });

  it('compares event times as instants when they carry different UTC offsets', () => {
    // 11:30+02:00 is 09:30Z: earlier than 10:00Z although it sorts later as a string.
    const offset = form('evt_a2', '2025-01-01T11:30:00+02:00', { company: 'Earlier AG' });
    const utc = form('evt_b2', '2025-01-01T10:00:00Z', { company: 'Later AG' });
    const facts = mergeAll([offset, utc]);
    expect(facts.profile.company?.value).toBe('Later AG');
    // Kept normalized to UTC, so later comparisons stay string comparisons.
    expect(facts.firstSeenAt).toBe(new Date(offset.occurredAt).toISOString());
    expect(facts.lastSeenAt).toBe(new Date(utc.occurredAt).toISOString());
  });
});
