import { FUNNEL_PATH, type PathStage, type Stage, stageRank } from '../domain/stage.ts';
import type { Logger } from '../observability/logger.ts';
import type { StageChange } from '../store/contact-store.ts';
import {
  APPLY_WINDOW_MS,
  type CountedMarker,
  type CountedState,
  type CounterDeltas,
  type CountIntent,
  type CurrentCounter,
  countToken,
  type FunnelStore,
} from '../store/funnel-store.ts';

export interface CountDeps {
  funnel: FunnelStore;
  now: () => Date;
  logger: Logger;
  /**
   * Milliseconds on a monotonic clock (default `performance.now`; tests move their own). The
   * apply window is real time spent by this worker, not time on the `now` clock.
   */
  monotonicMs?: () => number;
}

/** A point in this worker's real time, on the monotonic clock and on the system's wall clock. */
interface Instant {
  monotonic: number;
  wall: number;
}

const instant = (deps: CountDeps): Instant => ({
  monotonic: deps.monotonicMs?.() ?? performance.now(),
  wall: Date.now(),
});

/** Real time since `since`: the larger reading of the two clocks, should one of them stand still. */
const elapsedSince = (since: Instant, deps: CountDeps): number => {
  const at = instant(deps);
  return Math.max(at.monotonic - since.monotonic, at.wall - since.wall);
};

/** Claims that lose to another writer of the same contact are retried this often. */
const MAX_CLAIM_ATTEMPTS = 8;

/** Reads of the marker that came too late to apply its intent are retried this often. */
const MAX_LATE_ROUNDS = 3;

/** The store was too slow to apply a change within the window; the message comes back from SQS. */
export class CountTooSlowError extends Error {
  override readonly name = 'CountTooSlowError';
}

/** Another writer kept winning the contact's marker; the message comes back from SQS. */
export class CountConflictError extends Error {
  override readonly name = 'CountConflictError';
}

/** The state of an erased contact: counted nowhere. */
export function erasedState(version: number, sequence: number): CountedState {
  return { stage: null, contactable: true, stale: false, version, sequence };
}

/**
 * A stage's place on the forward path: -1 below `lead` for a new contact and for one coming
 * back from `disqualified` (which the domain ranks below lead).
 */
function pathRank(stage: Stage | null): number {
  return stage === null ? -1 : stageRank(stage);
}

/**
 * The path stages a change reaches: those above where it came from, up to where it went
 * (a lead going straight to prospect reaches qualified and prospect). A move back, sideways
 * or into `disqualified` reaches none.
 */
export function reachedBy(from: Stage | null, to: Stage): PathStage[] {
  if (to === 'disqualified') return [];
  return FUNNEL_PATH.slice(pathRank(from) + 1, pathRank(to) + 1);
}

/**
 * What moving the counters from `old` (undefined: never counted) to `next` adds: the old
 * stage and flags out, the new ones in, and each stage change after the old sequence (up to
 * the new one) into the "entered" counter of its UTC day, and into the "reached" counters of
 * the path stages it reached.
 */
export function countDeltas(
  old: CountedState | undefined,
  next: CountedState,
  changes: readonly Pick<StageChange, 'sequence' | 'from' | 'to' | 'at'>[],
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
  const reached: Record<string, Partial<Record<PathStage, number>>> = {};
  const after = old?.sequence ?? 0;
  for (const change of changes) {
    if (change.sequence <= after || change.sequence > next.sequence) continue;
    const day = change.at.slice(0, 10);
    const counts = entered[day] ?? {};
    counts[change.to] = (counts[change.to] ?? 0) + 1;
    entered[day] = counts;
    const stages = reachedBy(change.from, change.to);
    if (stages.length === 0) continue;
    const reachedCounts = reached[day] ?? {};
    for (const stage of stages) reachedCounts[stage] = (reachedCounts[stage] ?? 0) + 1;
    reached[day] = reachedCounts;
  }
  return { current, entered, reached };
}

const isEmpty = (deltas: CounterDeltas) =>
  Object.keys(deltas.current).length === 0 &&
  Object.keys(deltas.entered).length === 0 &&
  Object.keys(deltas.reached ?? {}).length === 0;

/**
 * Applies an intent found in (or just claimed into) the marker, then settles it, if the read
 * or claim that saw it began less than APPLY_WINDOW_MS ago; false when the window is over
 * (the caller reads the marker again). Requests still in flight at the end of the window are
 * aborted: past it, the counter items may have forgotten the token of an intent settled meanwhile.
 */
async function applyWithin(
  contactId: string,
  intent: CountIntent,
  seenAt: Instant,
  deps: CountDeps,
): Promise<boolean> {
  const remaining = APPLY_WINDOW_MS - elapsedSince(seenAt, deps);
  if (remaining <= 0) return false;
  await deps.funnel.apply(intent, { abortSignal: AbortSignal.timeout(Math.ceil(remaining)) });
  await deps.funnel.settle(contactId, intent, deps.now());
  return true;
}

/**
 * Brings the funnel counters to `next` for one contact, exactly once: safe to repeat, to
 * run concurrently with other versions of the same contact, and in any order (an older
 * version than the one counted is skipped). `changes` are the stage changes `next` may
 * bring that were not counted yet (the record's pendingHistory).
 */
export async function countContact(
  contactId: string,
  next: CountedState,
  changes: readonly Pick<StageChange, 'sequence' | 'from' | 'to' | 'at'>[],
  deps: CountDeps,
): Promise<'counted' | 'already_counted'> {
  let claimedByThis = false;
  let lateRounds = 0;
  const late = () => {
    lateRounds++;
    if (lateRounds >= MAX_LATE_ROUNDS) {
      throw new CountTooSlowError(`funnel count of ${contactId} kept missing its apply window`);
    }
    deps.logger.debug('funnel marker read too long ago, reading again', { contactId });
  };
  for (let attempt = 1; ; attempt++) {
    // Taken before the read: the intent the read finds was not settled before this time.
    const readAt = instant(deps);
    let marker = await deps.funnel.counted(contactId);
    if (marker?.pending !== undefined) {
      // A change claimed before but maybe not applied (its worker crashed, or is still at
      // it): finish it; the token keeps it from landing twice.
      if (!(await applyWithin(contactId, marker.pending, readAt, deps))) {
        late();
        attempt--;
        continue;
      }
      const { pending: _settled, ...rest } = marker;
      marker = rest;
    }
    if (marker !== undefined && marker.version >= next.version) {
      return claimedByThis ? 'counted' : 'already_counted';
    }
    const deltas = countDeltas(marker, next, changes);
    // Written even when nothing changes, so that an older version arriving later is skipped.
    const claimed: CountedMarker = isEmpty(deltas)
      ? { ...next }
      : { ...next, pending: { token: countToken(contactId, next.version), deltas } };
    const claimAt = instant(deps);
    if (await deps.funnel.claim(contactId, claimed, marker?.version)) {
      if (claimed.pending === undefined) return 'counted';
      if (await applyWithin(contactId, claimed.pending, claimAt, deps)) return 'counted';
      // The claim took too long: its intent is finished from a fresh read of the marker.
      claimedByThis = true;
      late();
      attempt--;
      continue;
    }
    if (attempt >= MAX_CLAIM_ATTEMPTS) {
      throw new CountConflictError(`funnel marker of ${contactId} kept changing`);
    }
    deps.logger.debug('funnel marker changed, retrying', { contactId, attempt });
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
  }
}
