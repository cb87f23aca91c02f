import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Logger } from '../observability/logger.ts';
import { sqsBatchHandler, UnreadableMessageError } from '../queue/batch.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import type { SubscriptionStore } from '../store/subscription-store.ts';
import { type DeliveryJob, deliveryJobSchema } from './job.ts';
import { postWebhook } from './send.ts';
import { signDelivery } from './sign.ts';

/** How long a subscriber gets to answer before the attempt counts as failed. */
export const DELIVERY_TIMEOUT_MS = 15_000;

export interface DeliverDeps {
  subscriptions: SubscriptionStore;
  deliveries: DeliveryStore;
  now: () => Date;
  logger: Logger;
  timeoutMs?: number;
  /** The delivery DLQ: unreadable jobs are parked there with the reason. */
  deadLetters?: MessageQueue;
}

/** A delivery attempt failed; the message returns after its visibility timeout. */
export class DeliveryFailedError extends Error {
  override readonly name = 'DeliveryFailedError';
}

/** The SQS handler for the delivery queue: one signed POST per message. */
export function createDeliverHandler(
  deps: DeliverDeps,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return sqsBatchHandler(
    async (record) => {
      let job: DeliveryJob;
      try {
        job = deliveryJobSchema.parse(JSON.parse(record.body));
      } catch (error) {
        throw new UnreadableMessageError('message is not a readable delivery job (v1)', {
          cause: error,
        });
      }
      const delivery = await deps.deliveries.get(job.contactId, job.deliveryId);
      if (
        delivery === undefined ||
        delivery.status === 'delivered' ||
        delivery.status === 'cancelled'
      ) {
        return;
      }
      const subscription = await deps.subscriptions.get(job.subscriptionId);
      if (subscription === undefined) {
        await deps.deliveries.recordAttempt(
          job.contactId,
          job.deliveryId,
          { at: deps.now().toISOString(), latencyMs: 0, error: 'subscription deleted' },
          'cancelled',
        );
        return;
      }
      const body = JSON.stringify(delivery.message);
      const headers = signDelivery({ id: delivery.deliveryId, timestamp: deps.now(), body }, [
        subscription.secret,
      ]);
      const result = await postWebhook(
        {
          url: subscription.url,
          headers: { ...headers },
          body,
          timeoutMs: deps.timeoutMs ?? DELIVERY_TIMEOUT_MS,
        },
        deps.now,
      );
      await deps.deliveries.recordAttempt(
        job.contactId,
        job.deliveryId,
        result.attempt,
        result.ok ? 'delivered' : 'failing',
      );
      deps.logger.info('delivery attempt', {
        deliveryId: job.deliveryId,
        subscriptionId: job.subscriptionId,
        ok: result.ok,
        statusCode: result.attempt.statusCode,
        latencyMs: result.attempt.latencyMs,
      });
      if (!result.ok) {
        throw new DeliveryFailedError(
          `delivery ${job.deliveryId} failed: ${result.attempt.statusCode ?? result.attempt.error}`,
        );
      }
    },
    { ...(deps.deadLetters ? { deadLetters: deps.deadLetters } : {}), logger: deps.logger },
  );
}
