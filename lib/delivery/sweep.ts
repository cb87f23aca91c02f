import type { Logger } from '../observability/logger.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import { SWEEP_GRACE_MS } from './deliver-handler.ts';
import type { DeliveryJob } from './job.ts';

export interface SweepDeps {
  deliveries: DeliveryStore;
  deliveryQueue: MessageQueue;
  now: () => Date;
  logger: Logger;
  /** The most deliveries one sweep queues; the next sweep takes the rest. */
  limit?: number;
}

export const DEFAULT_SWEEP_LIMIT = 500;

/**
 * Queues every delivery whose time has come: retries that wait longer than SQS can delay a
 * message (15 minutes), and any delivery whose queued job never ran (a crash between the
 * commit and the send, a lost message). Each one is moved 5 minutes on before its job is
 * sent, so a sweep that dies half-way is repaired by the next, and the next does not queue
 * the same delivery again while its job is in flight.
 */
export async function sweepDueDeliveries(deps: SweepDeps): Promise<{ queued: number }> {
  const now = deps.now();
  const due = await deps.deliveries.listDue(now.toISOString(), deps.limit ?? DEFAULT_SWEEP_LIMIT);
  const nextSweep = new Date(now.getTime() + SWEEP_GRACE_MS).toISOString();
  let queued = 0;
  for (const delivery of due) {
    if (!(await deps.deliveries.reschedule(delivery.contactId, delivery.deliveryId, nextSweep)))
      continue;
    const job: DeliveryJob = { v: 1, ...delivery };
    await deps.deliveryQueue.send(JSON.stringify(job));
    queued += 1;
  }
  if (queued > 0) deps.logger.info('sweep queued due deliveries', { queued });
  return { queued };
}
