import { deriveStage, nextFlagChangeAt, type StageReason } from '../domain/stage.ts';
import { type ContactRecord, isErased } from '../store/contact-store.ts';
import { type ClassifyDeps, commitOrBackOff, projectOutbox } from './apply-event.ts';

/** The reasons that belong to the flags time moves; every other reason is about the stage. */
const TIME_REASONS: ReadonlySet<string> = new Set(['stale', 'cadence_exceeded']);

/**
 * `refreshed`: time moved a flag (or when it next will) and the contact was committed again;
 * `unchanged`: nothing to write; `not_found`: no such contact, or erased.
 */
export type RefreshOutcome = 'refreshed' | 'unchanged' | 'not_found';

/**
 * Brings a contact's time-dependent flags up to now, without an event: `stale` and
 * `cadenceExceeded` with their reasons, and `flagsDueAt`, when time next moves one. Leaves
 * the stage, its reasons, qualification and contactability as the last event made them: only
 * an event changes those (decision 13), also when the criteria changed since. A change of
 * `stale` owes the funnel counters an update, as an event's commit would. Safe to repeat; a
 * repeat finishes the projections a crash left pending.
 */
export async function refreshContact(
  contactId: string,
  deps: ClassifyDeps,
): Promise<RefreshOutcome> {
  for (let attempt = 1; ; attempt++) {
    const stored = await deps.contacts.getForUpdate(contactId);
    if (stored === undefined || isErased(stored)) return 'not_found';
    const config = deps.config.qualification;
    const verdict = deriveStage(stored.facts, config, deps.now());
    const flags = {
      ...stored.flags,
      stale: verdict.flags.stale,
      cadenceExceeded: verdict.flags.cadenceExceeded,
    };
    const flagsDueAt = nextFlagChangeAt(stored.facts, config, flags);
    const staleMoved = flags.stale !== stored.flags.stale;
    if (
      !staleMoved &&
      flags.cadenceExceeded === stored.flags.cadenceExceeded &&
      flagsDueAt === stored.flagsDueAt
    ) {
      // The count a crash left owing is made now: the next pass would not list this contact.
      await projectOutbox(stored, deps);
      return 'unchanged';
    }
    const reasons: StageReason[] = [
      ...stored.reasons.filter((reason) => !TIME_REASONS.has(reason.code)),
      ...verdict.reasons.filter((reason) => TIME_REASONS.has(reason.code)),
    ];
    const version = stored.version + 1;
    const { flagsDueAt: _previous, ...rest } = stored;
    const record: ContactRecord = {
      ...rest,
      reasons,
      flags,
      ...(flagsDueAt !== undefined ? { flagsDueAt } : {}),
      version,
      // The funnel counts `stale`: this commit owes the counters an update, as an event's would.
      pendingCounts: staleMoved
        ? { ...stored.pendingCounts, [String(version)]: true }
        : { ...stored.pendingCounts },
      updatedAt: deps.now().toISOString(),
    };
    if (!(await commitOrBackOff(record, stored.version, attempt, deps))) continue;
    await projectOutbox(record, deps);
    return 'refreshed';
  }
}
