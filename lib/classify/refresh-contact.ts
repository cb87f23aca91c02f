import { deriveStage } from '../domain/stage.ts';
import { type ContactRecord, isErased } from '../store/contact-store.ts';
import { VersionConflictError } from '../store/errors.ts';
import { type ClassifyDeps, projectOutbox } from './apply-event.ts';

const MAX_COMMIT_ATTEMPTS = 8;

/**
 * `refreshed`: time moved a flag and the contact was committed (and counted) again;
 * `unchanged`: nothing time-dependent moved; `not_found`: no such contact, or erased;
 * `left_for_next_event`: its facts now derive another stage or contactability (the
 * qualification config changed), which only an event may change.
 */
export type RefreshOutcome = 'refreshed' | 'unchanged' | 'not_found' | 'left_for_next_event';

/**
 * Derives a contact's flags again as of now, without an event: what time alone changes,
 * `stale` and `cadenceExceeded` with their reasons. Commits only when one of them moved, and
 * counts a change of `stale` in the funnel. Never changes the stage or contactability: a
 * stage change needs an event as its cause (decision 13). Safe to repeat.
 */
export async function refreshContact(
  contactId: string,
  deps: ClassifyDeps,
): Promise<RefreshOutcome> {
  for (let attempt = 1; ; attempt++) {
    const stored = await deps.contacts.getForUpdate(contactId);
    if (stored === undefined || isErased(stored)) return 'not_found';
    const now = deps.now();
    const verdict = deriveStage(stored.facts, deps.config.qualification, now);
    if (verdict.stage !== stored.stage || verdict.flags.contactable !== stored.flags.contactable) {
      return 'left_for_next_event';
    }
    const staleMoved = verdict.flags.stale !== stored.flags.stale;
    if (!staleMoved && verdict.flags.cadenceExceeded === stored.flags.cadenceExceeded) {
      return 'unchanged';
    }
    const version = stored.version + 1;
    const record: ContactRecord = {
      ...stored,
      reasons: verdict.reasons,
      missing: verdict.missing,
      qualification: verdict.qualification,
      flags: verdict.flags,
      version,
      // The funnel counts `stale`: this commit owes the counters an update, as an event's would.
      pendingCounts: staleMoved
        ? { ...stored.pendingCounts, [String(version)]: true }
        : { ...stored.pendingCounts },
      updatedAt: now.toISOString(),
    };
    try {
      await deps.contacts.commit(record, stored.version);
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
      continue;
    }
    await projectOutbox(record, deps);
    return 'refreshed';
  }
}
