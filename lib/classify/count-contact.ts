import type { Stage } from '../domain/stage.ts';
import type { Logger } from '../observability/logger.ts';
import type { StageChange } from '../store/contact-store.ts';
import type {
  CountedMarker,
  CountedState,
  CounterDeltas,
  CurrentCounter,
  FunnelStore,
} from '../store/funnel-store.ts';

export interface CountDeps {
  funnel: FunnelStore;
  now: () => Date;
  logger: Logger;
}

/** Claims that lose to another writer of the same contact are retried this often. */
const MAX_CLAIM_ATTEMPTS = 8;

/** Another writer kept winning the contact's marker; the message comes back from SQS. */
export class CountConflictError extends Error {
  override readonly name = 'CountConflictError';
}

/** The state of an erased contact: counted nowhere. */
export function erasedState(version: number, sequence: number): CountedState {
  return { stage: null, contactable: true, stale: false, version, sequence };
}

/**
 * What moving the counters from `old` (undefined: never counted) to `next` adds: the old
 * stage and flags out, the new ones in, and each stage change after the old sequence (up to
 * the new one) into the "entered" counter of its UTC day.
 */
export function countDeltas(
  old: CountedState | undefined,
  next: CountedState,
  changes: readonly Pick<StageChange, 'sequence' | 'to' | 'at'>[],
): CounterDeltas {
  const current: Partial<Record<CurrentCounter, number>> = {};
  const add = (counter: CurrentCounter, delta: number) => {
    const value = (current[counter] ?? 0) + delta;
    if (value === 0) delete current[counter];
    else current[counter] = value;
  };
  const count = (state: CountedState | undefined, sign: 1 | -1) => {
    if (state?.stage == null) return;
    add(state.stage, sign);
    add('total', sign);
    if (!state.contactable) add('notContactable', sign);
    if (state.stale) add('stale', sign);
  };
  count(old, -1);
  count(next, 1);
  const entered: Record<string, Partial<Record<Stage, number>>> = {};
  const after = old?.sequence ?? 0;
  for (const change of changes) {
    if (change.sequence <= after || change.sequence > next.sequence) continue;
    const day = change.at.slice(0, 10);
    const counts = entered[day] ?? {};
    counts[change.to] = (counts[change.to] ?? 0) + 1;
    entered[day] = counts;
  }
  return { current, entered };
}

const isEmpty = (deltas: CounterDeltas) =>
  Object.keys(deltas.current).length === 0 && Object.keys(deltas.entered).length === 0;

/**
 * Brings the funnel counters to `next` for one contact, exactly once: safe to repeat, to
 * run concurrently with other versions of the same contact, and in any order (an older
 * version than the one counted is skipped). `changes` are the stage changes `next` may
 * bring that were not counted yet (the record's pendingHistory).
 */
export async function countContact(
  contactId: string,
  next: CountedState,
  changes: readonly Pick<StageChange, 'sequence' | 'to' | 'at'>[],
  deps: CountDeps,
): Promise<'counted' | 'already_counted'> {
  for (let attempt = 1; ; attempt++) {
    let marker = await deps.funnel.counted(contactId);
    if (marker?.pending !== undefined) {
      // A change claimed before but maybe not applied (its worker crashed, or is still at
      // it): finish it; the token keeps it from landing twice.
      await deps.funnel.apply(marker.pending);
      await deps.funnel.settle(contactId, marker.pending, deps.now());
      const { pending: _settled, ...rest } = marker;
      marker = rest;
    }
    if (marker !== undefined && marker.version >= next.version) return 'already_counted';
    const deltas = countDeltas(marker, next, changes);
    // Written even when nothing changes, so that an older version arriving later is skipped.
    const claimed: CountedMarker = isEmpty(deltas)
      ? { ...next }
      : { ...next, pending: { token: `${contactId}#${next.version}`, deltas } };
    if (await deps.funnel.claim(contactId, claimed, marker?.version)) {
      if (claimed.pending !== undefined) {
        await deps.funnel.apply(claimed.pending);
        await deps.funnel.settle(contactId, claimed.pending, deps.now());
      }
      return 'counted';
    }
    if (attempt >= MAX_CLAIM_ATTEMPTS) {
      throw new CountConflictError(`funnel marker of ${contactId} kept changing`);
    }
    deps.logger.debug('funnel marker changed, retrying', { contactId, attempt });
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
  }
}
