import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Logger } from '../observability/logger.ts';
import { sqsBatchHandler, UnreadableMessageError } from '../queue/batch.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import { type ContactStore, isErased } from '../store/contact-store.ts';
import type { DeliveryRecord, DeliveryStore } from '../store/delivery-store.ts';
import {
  type SubscriptionRecord,
  type SubscriptionStore,
  signingSecrets,
} from '../store/subscription-store.ts';
import { type DeliveryJob, deliveryJobSchema } from './job.ts';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, nextRetryDelay } from './retry-schedule.ts';
import { postWebhook, type SendResult } from './send.ts';
import { signDelivery } from './sign.ts';

/** How long a subscriber gets to answer before the attempt counts as failed. */
export const DELIVERY_TIMEOUT_MS = 15_000;
/** SQS holds a message back for at most 15 minutes; longer waits are the sweeper's. */
export const MAX_QUEUE_DELAY_SECONDS = 900;
/** After a queued retry is due, the sweeper waits this long before it queues the job again. */
export const SWEEP_GRACE_MS = 5 * 60 * 1000;
/** An endpoint failing this long without one success is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 86_400_000;

/**
 * `lastSuccessAt` is kept to this precision: a healthy endpoint's record is rewritten at most
 * once a minute instead of once per delivery (a write unit per webhook saved under load).
 */
export const LAST_SUCCESS_PRECISION_MS = 60_000;

/** Whether a success must be written to the subscription's health: it ends a failing run, or the last one on record is older than the precision. */
function healthNeedsSuccess(subscription: SubscriptionRecord, at: string): boolean {
  if (subscription.failingSince !== undefined || subscription.lastSuccessAt === undefined)
    return true;
  return Date.parse(at) - Date.parse(subscription.lastSuccessAt) >= LAST_SUCCESS_PRECISION_MS;
}

export interface DeliverDeps {
  subscriptions: SubscriptionStore;
  deliveries: DeliveryStore;
  /** Where retries of 15 minutes or less are queued, delayed. */
  deliveryQueue: MessageQueue;
  now: () => Date;
  logger: Logger;
  timeoutMs?: number;
  /** Seconds between attempts; Svix's schedule unless configured. */
  retrySchedule?: readonly number[];
  /** In [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  /** Local mode: a subscriber on loopback may be called. */
  allowLocalTargets?: boolean;
  /** Contacts, to cancel a delivery whose contact was erased meanwhile (one read per attempt). */
  contacts?: ContactStore;
  /** The delivery DLQ: unreadable jobs, and every exhausted delivery, are recorded there. */
  deadLetters?: MessageQueue;
}

const OPEN = new Set(['pending', 'failing']);

/** Signs and sends one delivery to its subscriber. */
async function attempt(
  delivery: DeliveryRecord,
  subscription: SubscriptionRecord,
  deps: DeliverDeps,
): Promise<SendResult> {
  const body = JSON.stringify(delivery.message);
  const now = deps.now();
  // During a rotation both the new and the old secret sign, space-separated (Standard Webhooks).
  const headers = signDelivery(
    { id: delivery.deliveryId, timestamp: now, body },
    signingSecrets(subscription, now),
  );
  return postWebhook(
    {
      url: subscription.url,
      headers: { ...headers },
      body,
      timeoutMs: deps.timeoutMs ?? DELIVERY_TIMEOUT_MS,
      ...(deps.allowLocalTargets ? { allowLocal: true } : {}),
    },
    deps.now,
  );
}

/** What happens after a failed attempt: the next one is scheduled, or the delivery is exhausted. */
async function scheduleRetry(
  job: DeliveryJob,
  delivery: DeliveryRecord,
  result: SendResult,
  deps: DeliverDeps,
): Promise<'retry' | 'exhausted' | 'duplicate'> {
  const attemptsMade = delivery.attemptCount + 1;
  const expectedAttemptCount = delivery.attemptCount;
  const { retryAfterMs } = result;
  const { delayMs } = nextRetryDelay(
    attemptsMade,
    deps.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS,
    {
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(deps.random ? { random: deps.random } : {}),
    },
  );
  if (delayMs === undefined) {
    if (
      !(await deps.deliveries.recordAttempt(
        job.contactId,
        job.deliveryId,
        result.attempt,
        'exhausted',
        {
          expectedAttemptCount,
        },
      ))
    ) {
      return 'duplicate';
    }
    await deps.deadLetters?.send(JSON.stringify(job), {
      attributes: {
        reason: `exhausted after ${attemptsMade} attempts`,
        deliveryId: job.deliveryId,
      },
    });
    return 'exhausted';
  }
  const now = deps.now().getTime();
  const nextAttemptAt = new Date(now + delayMs).toISOString();
  const queued = delayMs <= MAX_QUEUE_DELAY_SECONDS * 1000;
  // A queued retry is also in the pending index, as a safety net the sweeper takes only if the
  // queued job never ran; a longer wait is the sweeper's alone.
  const sweepAt = new Date(now + delayMs + (queued ? SWEEP_GRACE_MS : 0)).toISOString();
  const recorded = await deps.deliveries.recordAttempt(
    job.contactId,
    job.deliveryId,
    result.attempt,
    'failing',
    {
      nextAttemptAt,
      sweepAt,
      expectedAttemptCount,
    },
  );
  // Another job of the same delivery recorded first: its schedule holds, this one adds none.
  if (!recorded) return 'duplicate';
  if (queued)
    await deps.deliveryQueue.send(JSON.stringify(job), { delaySeconds: Math.ceil(delayMs / 1000) });
  return 'retry';
}

/**
 * The SQS handler for the delivery queue: one signed POST per job. A failure schedules its
 * own retry (delayed message, or the sweeper for waits past 15 minutes), so the job itself
 * succeeds; only a failure to record the outcome sends the job back.
 */
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
      // Gone (erased), done, or waiting for its subscription: nothing to send.
      if (delivery === undefined || !OPEN.has(delivery.status)) return;
      // A duplicate job ahead of the scheduled retry: the retry's own job comes at its time.
      if (delivery.nextAttemptAt !== undefined && delivery.nextAttemptAt > deps.now().toISOString())
        return;
      // A change committed just before an erasure must not reach the CRM after `contact.erased`.
      if (delivery.message.type !== 'contact.erased' && deps.contacts !== undefined) {
        const contact = await deps.contacts.getForUpdate(job.contactId);
        if (contact === undefined || isErased(contact)) {
          await deps.deliveries.setStatus(job.contactId, job.deliveryId, 'cancelled');
          return;
        }
      }
      const subscription = await deps.subscriptions.get(job.subscriptionId);
      if (subscription === undefined) {
        await deps.deliveries.setStatus(job.contactId, job.deliveryId, 'cancelled');
        return;
      }
      if (!subscription.enabled) {
        // Kept until the subscription is enabled again (then re-queued) or deleted.
        await deps.deliveries.setStatus(job.contactId, job.deliveryId, 'paused');
        return;
      }

      const result = await attempt(delivery, subscription, deps);
      const at = result.attempt.at;
      let outcome: string;
      const expectedAttemptCount = delivery.attemptCount;
      if (result.ok) {
        // A success is recorded whatever else happened: `delivered` is the truth now.
        await deps.deliveries.recordAttempt(
          job.contactId,
          job.deliveryId,
          result.attempt,
          'delivered',
        );
        if (healthNeedsSuccess(subscription, at)) {
          await deps.subscriptions.recordHealth(subscription.id, {
            failingSince: null,
            lastSuccessAt: at,
          });
        }
        outcome = 'delivered';
      } else if (result.attempt.statusCode === 410) {
        // 410 Gone: the receiver says this endpoint is no more. Stop at once, keep the change.
        await deps.deliveries.recordAttempt(
          job.contactId,
          job.deliveryId,
          result.attempt,
          'paused',
          {
            expectedAttemptCount,
          },
        );
        await deps.subscriptions.recordHealth(subscription.id, { disable: 'gone' });
        outcome = 'gone';
      } else {
        outcome = await scheduleRetry(job, delivery, result, deps);
        const failingSince = subscription.failingSince ?? at;
        const disable = Date.parse(at) - Date.parse(failingSince) >= DISABLE_AFTER_FAILING_MS;
        // During an outage every attempt fails; the run's start is already on record.
        if (subscription.failingSince === undefined || disable) {
          await deps.subscriptions.recordHealth(subscription.id, {
            failingSince: at,
            ...(disable ? { disable: 'failing' as const } : {}),
          });
        }
      }
      deps.logger.info('delivery attempt', {
        deliveryId: job.deliveryId,
        subscriptionId: job.subscriptionId,
        outcome,
        statusCode: result.attempt.statusCode,
        latencyMs: result.attempt.latencyMs,
        attempt: delivery.attemptCount + 1,
      });
    },
    { ...(deps.deadLetters ? { deadLetters: deps.deadLetters } : {}), logger: deps.logger },
  );
}
