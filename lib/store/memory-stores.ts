import type { ContactRecord, ContactStore } from './contact-store.ts';
import type {
  DeliveryAttempt,
  DeliveryRecord,
  DeliveryStatus,
  DeliveryStore,
} from './delivery-store.ts';
import { VersionConflictError } from './errors.ts';
import type { MessageIndexStore } from './message-index-store.ts';
import type { SubscriptionRecord, SubscriptionStore } from './subscription-store.ts';

/** The error DynamoDB raises when a condition fails, so callers see the same shape in memory. */
function conditionalCheckFailed(): Error {
  const error = new Error('The conditional request failed');
  error.name = 'ConditionalCheckFailedException';
  return error;
}

/** Contact items in a Map, with the same optimistic version check as the DynamoDB store. */
export class MemoryContactStore implements ContactStore {
  readonly #items = new Map<string, ContactRecord>();

  /** Returns a copy of the stored contact, or undefined. */
  async get(contactId: string): Promise<ContactRecord | undefined> {
    const item = this.#items.get(contactId);
    return item === undefined ? undefined : structuredClone(item);
  }

  /** Stores a copy if the version is `expectedVersion` (or absent); else VersionConflictError. */
  async commit(record: ContactRecord, expectedVersion: number | undefined): Promise<void> {
    const current = this.#items.get(record.contactId);
    const ok =
      expectedVersion === undefined
        ? current === undefined
        : current !== undefined && current.version === expectedVersion;
    if (!ok) throw new VersionConflictError(record.contactId, { cause: conditionalCheckFailed() });
    this.#items.set(record.contactId, structuredClone(record));
  }

  /** Removes the given outbox entries; a missing contact or entry is a no-op. */
  async clearOutbox(contactId: string, deliveryIds: string[]): Promise<void> {
    const item = this.#items.get(contactId);
    if (item === undefined) return;
    for (const id of deliveryIds) delete item.outbox[id];
  }

  /** Copies of every stored contact (a test helper; not part of ContactStore). */
  all(): ContactRecord[] {
    return [...this.#items.values()].map((item) => structuredClone(item));
  }
}

/** Subscriptions in a Map, listed in insertion order. */
export class MemorySubscriptionStore implements SubscriptionStore {
  readonly #items = new Map<string, SubscriptionRecord>();

  /** Stores a copy, replacing any subscription with the same id. */
  async put(subscription: SubscriptionRecord): Promise<void> {
    this.#items.set(subscription.id, structuredClone(subscription));
  }

  /** Returns a copy of the subscription, or undefined. */
  async get(id: string): Promise<SubscriptionRecord | undefined> {
    const item = this.#items.get(id);
    return item === undefined ? undefined : structuredClone(item);
  }

  /** Deletes the subscription; false when there was none. */
  async delete(id: string): Promise<boolean> {
    return this.#items.delete(id);
  }

  /** Copies of every subscription. */
  async list(): Promise<SubscriptionRecord[]> {
    return [...this.#items.values()].map((item) => structuredClone(item));
  }
}

const deliveryKey = (subscriptionId: string, deliveryId: string) =>
  `${subscriptionId}\n${deliveryId}`;

/** Deliveries in a Map keyed by subscription and delivery id, like the DynamoDB item keys. */
export class MemoryDeliveryStore implements DeliveryStore {
  readonly #items = new Map<string, DeliveryRecord>();

  /** Stores a copy unless the delivery exists already; the first one is kept. */
  async putIfAbsent(delivery: DeliveryRecord): Promise<void> {
    const key = deliveryKey(delivery.subscriptionId, delivery.deliveryId);
    if (!this.#items.has(key)) this.#items.set(key, structuredClone(delivery));
  }

  /** Returns a copy of the delivery, or undefined. */
  async get(subscriptionId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
    const item = this.#items.get(deliveryKey(subscriptionId, deliveryId));
    return item === undefined ? undefined : structuredClone(item);
  }

  /** Counts the attempt, sets status, lastAttempt (and deliveredAt); throws if missing. */
  async recordAttempt(
    subscriptionId: string,
    deliveryId: string,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
  ): Promise<void> {
    const item = this.#items.get(deliveryKey(subscriptionId, deliveryId));
    if (item === undefined) throw conditionalCheckFailed();
    item.status = status;
    item.lastAttempt = structuredClone(attempt);
    item.attemptCount += 1;
    if (status === 'delivered') item.deliveredAt = attempt.at;
  }

  /** Copies of every stored delivery (a test helper; not part of DeliveryStore). */
  all(): DeliveryRecord[] {
    return [...this.#items.values()].map((item) => structuredClone(item));
  }
}

/** In-memory MessageIndexStore (expiry is not modelled: nothing here lives that long). */
export class MemoryMessageIndexStore implements MessageIndexStore {
  readonly #items = new Map<string, string>();

  async put(messageId: string, contactId: string): Promise<void> {
    this.#items.set(messageId.toLowerCase(), contactId);
  }

  async get(messageId: string): Promise<string | undefined> {
    return this.#items.get(messageId.toLowerCase());
  }
}
