import type { Logger } from '../observability/logger.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
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

export interface AgeDeps {
  directory: Pick<ContactDirectory, 'listFlagsDue'>;
  /** Where the refreshes go: the classify worker commits and counts them like events. */
  ingestQueue: MessageQueue;
  now: () => Date;
  logger: Logger;
}

/**
 * The ageing pass (daily on AWS; hourly and at start locally): queues a refresh of every
 * contact whose flags time has moved since it was last committed (gone stale without an
 * event, or its outbound touches out of the cadence window), read from the sparse flagsDue
 * index, so flags, reasons and the funnel's stale count follow time and not only events.
 * A pass that dies is repeated by the next; a refresh queued twice finds nothing to do.
 */
export async function ageContacts(deps: AgeDeps): Promise<{ queued: number }> {
  const now = deps.now().toISOString();
  let queued = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.directory.listFlagsDue(now, cursor);
    if (page.items.length > 0) {
      await deps.ingestQueue.sendBatch(
        page.items.map((contactId) => JSON.stringify({ v: 1, refresh: { contactId } })),
      );
      queued += page.items.length;
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  deps.logger.info('ageing pass queued refreshes', { queued });
  return { queued };
}
