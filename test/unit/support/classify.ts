import type { ClassifyDeps } from '../../../lib/classify/apply-event.ts';
import type { EraseDeps } from '../../../lib/classify/erase-contact.ts';
import { defaultAppConfig } from '../../../lib/config/app-config.ts';
import type { LeadEvent } from '../../../lib/domain/events.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import type { ContactStore } from '../../../lib/store/contact-store.ts';
import {
  MemoryContactStore,
  MemoryDeliveryStore,
  MemoryFunnelStore,
  MemoryHistoryStore,
  MemoryMessageIndexStore,
  MemorySubscriptionStore,
} from '../../../lib/store/memory-stores.ts';
import type { SubscriptionRecord } from '../../../lib/store/subscription-store.ts';

export function subscription(id: string, enabled = true): SubscriptionRecord {
  return {
    id,
    url: `https://crm.example.com/${id}`,
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    enabled,
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

/**
 * Classify deps on memory adapters, with the concrete adapters for inspection. The contact
 * store erases the contact's history, deliveries and index entries with it, as the single
 * table does; the clock can be moved (`clock.now`).
 */
export async function classifyFixture(subscriptions: SubscriptionRecord[] = []) {
  const clock = { now: new Date('2025-03-01T12:00:00.000Z') };
  const now = () => new Date(clock.now);
  const history = new MemoryHistoryStore();
  const deliveries = new MemoryDeliveryStore();
  const messages = new MemoryMessageIndexStore();
  const contacts = new MemoryContactStore([history, deliveries, messages]);
  const subscriptionStore = new MemorySubscriptionStore();
  for (const s of subscriptions) await subscriptionStore.put(s);
  const deliveryQueue = new MemoryQueue();
  const funnel = new MemoryFunnelStore();
  const deps: ClassifyDeps = {
    config: defaultAppConfig,
    contacts,
    subscriptions: subscriptionStore,
    deliveries,
    deliveryQueue,
    messages,
    history,
    funnel,
    now,
    logger: silentLogger,
  };
  return {
    deps,
    clock,
    contacts,
    subscriptions: subscriptionStore,
    deliveries,
    deliveryQueue,
    history,
    funnel,
  };
}

export function formEvent(id: string, overrides: Partial<LeadEvent> = {}): LeadEvent {
  return {
    kind: 'form_submitted',
    id,
    occurredAt: '2025-03-01T11:59:00.000Z',
    email: 'anna@example.com',
    source: 'form:contact',
    formId: 'contact',
    profile: { name: 'Anna Schmidt' },
    ...overrides,
  } as LeadEvent;
}

/** The store with its commit replaced, for tests that make the commit fail or race. */
export function withCommit(store: ContactStore, commit: ContactStore['commit']): ContactStore {
  return {
    get: (id) => store.get(id),
    getForUpdate: (id) => store.getForUpdate(id),
    clearOutbox: (id, deliveryIds, history, counts) =>
      store.clearOutbox(id, deliveryIds, history, counts),
    erase: (marker, expectedVersion) => store.erase(marker, expectedVersion),
    purge: (id) => store.purge(id),
    commit,
  };
}

/** classifyFixture plus erase deps on the same stores and an ingest queue for the delayed re-purge. */
export async function erasureFixture(subscriptions: SubscriptionRecord[] = []) {
  const f = await classifyFixture(subscriptions);
  const ingestQueue = new MemoryQueue();
  const eraseDeps: EraseDeps = {
    contacts: f.contacts,
    subscriptions: f.subscriptions,
    deliveries: f.deliveries,
    deliveryQueue: f.deliveryQueue,
    ingestQueue,
    funnel: f.funnel,
    now: f.deps.now,
    logger: silentLogger,
  };
  return { ...f, eraseDeps, ingestQueue };
}
