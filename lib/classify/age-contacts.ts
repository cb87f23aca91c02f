import { STAGES } from '../domain/stage.ts';
import type { Logger } from '../observability/logger.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import type { ContactDirectory } from '../store/contact-directory.ts';

export interface AgeDeps {
  directory: Pick<ContactDirectory, 'listToRefresh'>;
  /** Where the refreshes go: the classify worker commits and counts them like events. */
  ingestQueue: MessageQueue;
  /** `qualification.staleAfterDays` of the config. */
  staleAfterDays: number;
  now: () => Date;
  logger: Logger;
}

/**
 * The ageing pass (daily on AWS, hourly locally): finds the contacts that went stale without
 * an event since the last pass (no activity of their own for `staleAfterDays`, not flagged yet)
 * and those flagged over the cadence ceiling (whose touches may have left the window), and
 * queues a refresh of each, so their flags, reasons and the funnel's stale count follow time
 * and not only events. Reads each stage's byStage index partition in full (a filter on
 * `lastActivityAt`, projected there); a pass that dies is repeated by the next, and a refresh
 * queued twice finds nothing to do the second time.
 */
export async function ageContacts(deps: AgeDeps): Promise<{ queued: number }> {
  const cutoff = new Date(deps.now().getTime() - deps.staleAfterDays * 86_400_000).toISOString();
  let queued = 0;
  for (const stage of STAGES) {
    let cursor: string | undefined;
    do {
      const page = await deps.directory.listToRefresh(stage, cutoff, cursor);
      if (page.items.length > 0) {
        await deps.ingestQueue.sendBatch(
          page.items.map((contactId) => JSON.stringify({ v: 1, refresh: { contactId } })),
        );
        queued += page.items.length;
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  deps.logger.info('ageing pass queued refreshes', { queued, cutoff });
  return { queued };
}
