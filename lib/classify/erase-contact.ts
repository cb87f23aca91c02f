import type { DeliveryJob } from '../delivery/job.ts';
import type { Logger } from '../observability/logger.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import { type ContactStore, type ErasedContact, isErased } from '../store/contact-store.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import { VersionConflictError } from '../store/errors.ts';
import type { FunnelStore } from '../store/funnel-store.ts';
import { type SubscriptionStore, wants } from '../store/subscription-store.ts';
import { deliveryIdFor } from './apply-event.ts';
import { countContact, erasedState } from './count-contact.ts';

export interface EraseDeps {
  contacts: ContactStore;
  subscriptions: SubscriptionStore;
  deliveries: DeliveryStore;
  deliveryQueue: MessageQueue;
  /** Where the delayed re-purge goes (the ingest queue): it catches a projection that raced the erasure. */
  ingestQueue: MessageQueue;
  /** The funnel counters: an erased contact is counted nowhere. */
  funnel: FunnelStore;
  now: () => Date;
  logger: Logger;
}

/** How long after an erasure its partition is purged once more. */
export const REPURGE_DELAY_SECONDS = 120;

export type EraseOutcome = 'erased' | 'already_erased' | 'not_found';

/**
 * Erases a contact (GDPR Art. 17): replaces its item with a marker that holds no personal
 * data, deletes its timeline, stage history and deliveries, tells every subscriber
 * (`contact.erased`, which carries only the id), takes it out of the funnel counters, and
 * schedules one more purge to catch a projection that was in flight. Safe to repeat: a
 * repeat re-runs the purge, the count and the notifications, which are idempotent.
 */
export async function eraseContact(contactId: string, deps: EraseDeps): Promise<EraseOutcome> {
  let marker: ErasedContact | undefined;
  let outcome: EraseOutcome = 'erased';
  for (let attempt = 1; marker === undefined; attempt++) {
    const stored = await deps.contacts.getForUpdate(contactId);
    if (stored === undefined) return 'not_found';
    if (isErased(stored)) {
      marker = stored;
      outcome = 'already_erased';
      await deps.contacts.purge(contactId);
      break;
    }
    const candidate: ErasedContact = {
      contactId,
      erased: true,
      erasedAt: deps.now().toISOString(),
      version: stored.version + 1,
      sequence: stored.sequence,
    };
    try {
      await deps.contacts.erase(candidate, stored.version);
      marker = candidate;
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= 8) throw error;
    }
  }
  // Queued first: should this request die before the end, the re-purge still takes the
  // contact out of the counters (the purge job counts it out too), besides catching late
  // projections.
  await deps.ingestQueue.send(JSON.stringify({ v: 1, purge: { contactId } }), {
    delaySeconds: REPURGE_DELAY_SECONDS,
  });
  await countContact(contactId, erasedState(marker.version, marker.sequence), [], deps);

  const message = {
    type: 'contact.erased' as const,
    timestamp: marker.erasedAt,
    data: { contact: { id: contactId }, erasedAt: marker.erasedAt },
  };
  for (const subscription of await deps.subscriptions.list()) {
    if (!wants(subscription, 'contact.erased')) continue;
    const deliveryId = deliveryIdFor(contactId, `erased:${marker.erasedAt}`, subscription.id);
    await deps.deliveries.putIfAbsent({
      deliveryId,
      subscriptionId: subscription.id,
      contactId,
      message,
      // A disabled subscription gets the notice when it is enabled again.
      status: subscription.enabled ? 'pending' : 'paused',
      attemptCount: 0,
      createdAt: marker.erasedAt,
    });
    if (!subscription.enabled) continue;
    const job: DeliveryJob = { v: 1, contactId, subscriptionId: subscription.id, deliveryId };
    await deps.deliveryQueue.send(JSON.stringify(job));
  }
  deps.logger.info('contact erased', { contactId, outcome });
  return outcome;
}
