import type { QualificationConfig } from '../domain/qualification.ts';
import { STAGES } from '../domain/stage.ts';
import type { Logger } from '../observability/logger.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import type { AgeingStateStore } from '../store/ageing-state-store.ts';
import type { ContactDirectory } from '../store/contact-directory.ts';

/** The input of the daily EventBridge rule that runs the ageing pass (infra/leadstage.ts). */
export const AGEING_TASK = { task: 'age-contacts' } as const;

/** Whether a scheduled invocation asks for the ageing pass (the sweep's own rule sends EventBridge's event). */
export function isAgeingTask(event: unknown): boolean {
  return (
    typeof event === 'object' &&
    event !== null &&
    (event as { task?: unknown }).task === AGEING_TASK.task
  );
}

/** The settings `flagsDueAt` depends on, as one comparable string. */
export function flagsConfigOf(config: QualificationConfig): string {
  return JSON.stringify({
    staleAfterDays: config.staleAfterDays,
    cadence: { maxTouches: config.cadence.maxTouches, windowDays: config.cadence.windowDays },
  });
}

/** Contacts listed per page of the re-key walk (ten SendMessageBatch calls). */
const REKEY_PAGE = 100;
/** How long one sweep spends on the re-key walk before it leaves the rest to the next. */
export const REKEY_BUDGET_MS = 20_000;

export interface AgeDeps {
  directory: Pick<ContactDirectory, 'listFlagsDue' | 'listByStage'>;
  /** Where the refreshes go: the classify worker commits and counts them like events. */
  ingestQueue: MessageQueue;
  state: AgeingStateStore;
  /** The deployment's flag settings, `flagsConfigOf(config.qualification)`. */
  flagsConfig: string;
  now: () => Date;
  logger: Logger;
}

const refreshMessages = (contactIds: readonly string[]) =>
  contactIds.map((contactId) => JSON.stringify({ v: 1, refresh: { contactId } }));

/**
 * The ageing pass (daily on AWS; hourly and at start locally): queues a refresh of every
 * contact whose flags time has moved since it was last committed (gone stale without an
 * event, or its outbound touches out of the cadence window), read from the sparse flagsDue
 * index, so flags, reasons and the funnel's stale count follow time and not only events.
 * When the flag settings differ from those the contacts were keyed with (a changed config, or
 * contacts stored before the index existed), it also starts a re-key walk over every contact,
 * which the sweep carries on (`continueRekey`). Safe to repeat: a refresh queued twice finds
 * nothing to do.
 */
export async function ageContacts(deps: AgeDeps): Promise<{ queued: number; rekey: boolean }> {
  const now = deps.now().toISOString();
  let queued = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.directory.listFlagsDue(now, cursor);
    if (page.items.length > 0) {
      await deps.ingestQueue.sendBatch(refreshMessages(page.items));
      queued += page.items.length;
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  const state = await deps.state.get();
  const rekey = state?.flagsConfig !== deps.flagsConfig;
  if (rekey) await deps.state.put({ flagsConfig: deps.flagsConfig, rekey: { stage: 0 } });
  deps.logger.info('ageing pass queued refreshes', { queued, rekey });
  return { queued, rekey };
}

/**
 * Carries on the re-key walk the ageing pass started, if any, for at most `budgetMs`: queues a
 * refresh of every contact, stage by stage through the byStage index, 100 a page, and saves
 * where it got to. A refresh keys the contact's `flagsDueAt` with the current settings. A
 * sweep that dies re-queues the last page, which is harmless.
 */
export async function continueRekey(
  deps: AgeDeps,
  budgetMs = REKEY_BUDGET_MS,
): Promise<{ queued: number }> {
  const state = await deps.state.get();
  if (state?.rekey === undefined) return { queued: 0 };
  const started = Date.now();
  let { stage, cursor } = state.rekey;
  let queued = 0;
  while (stage < STAGES.length && Date.now() - started < budgetMs) {
    const page = await deps.directory.listByStage(STAGES[stage] as (typeof STAGES)[number], {
      limit: REKEY_PAGE,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    if (page.items.length > 0) {
      await deps.ingestQueue.sendBatch(refreshMessages(page.items.map((item) => item.contactId)));
      queued += page.items.length;
    }
    cursor = page.nextCursor;
    if (cursor === undefined) stage += 1;
  }
  await deps.state.put({
    flagsConfig: state.flagsConfig,
    ...(stage < STAGES.length
      ? { rekey: { stage, ...(cursor !== undefined ? { cursor } : {}) } }
      : {}),
  });
  deps.logger.info('re-key walk queued refreshes', { queued, done: stage >= STAGES.length });
  return { queued };
}
