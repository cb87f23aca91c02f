import type { Stage } from '../domain/stage.ts';
import type { AgeingState, AgeingStateStore } from './ageing-state-store.ts';
import { type ContactDirectory, type ContactSummary, summaryOf } from './contact-directory.ts';
import {
  type ContactRecord,
  type ContactStore,
  type ErasedContact,
  isErased,
  type StageChange,
} from './contact-store.ts';
import {
  decodeBeforeCursor,
  encodeBeforeCursor,
  InvalidCursorError,
  type Page,
  type PageRequest,
} from './cursor.ts';
import type {
  DeliveryAttempt,
  DeliveryRecord,
  DeliveryStatus,
  DeliveryStore,
  DeliverySummary,
  DueDelivery,
} from './delivery-store.ts';
import { NEW_DELIVERY_GRACE_MS, pageOfDeliveries } from './delivery-store.ts';
import { SubscriptionChangedError, VersionConflictError } from './errors.ts';
import {
  type ApplyOptions,
  type CountedMarker,
  type CountIntent,
  type CurrentCounts,
  counterUpdates,
  type DayCounts,
  type FunnelStore,
  recentSets,
  sumCurrent,
  sumDays,
} from './funnel-store.ts';
import {
  type ChangedContact,
  type HistoryStore,
  isStageChangeSortKey,
  type ListedStageChange,
  stageChangeSortKey,
  type TimelineEntry,
} from './history-store.ts';
import { keys } from './keys.ts';
import type { MessageIndexStore, ReplyMatch } from './message-index-store.ts';
import type {
  SubscriptionHealthChange,
  SubscriptionRecord,
  SubscriptionStore,
} from './subscription-store.ts';

/** The error DynamoDB raises when a condition fails, so callers see the same shape in memory. */
function conditionalCheckFailed(): Error {
  const error = new Error('The conditional request failed');
  error.name = 'ConditionalCheckFailedException';
  return error;
}

/** Something else that keeps items in a contact's partition, and erases them with it. */
export interface MemoryPartitionMember {
  purge(contactId: string): number;
}

/** Contact items in a Map, with the same optimistic version check as the DynamoDB store. */
export class MemoryContactStore implements ContactStore, ContactDirectory {
  readonly #items = new Map<string, ContactRecord | ErasedContact>();
  readonly #partitionMembers: MemoryPartitionMember[];

  /** @param partitionMembers the memory stores whose items `purge` erases with the contact */
  constructor(partitionMembers: MemoryPartitionMember[] = []) {
    this.#partitionMembers = partitionMembers;
  }

  /** Returns a copy of the stored contact, or undefined (also when erased). */
  async get(contactId: string): Promise<ContactRecord | undefined> {
    const item = this.#items.get(contactId);
    return item === undefined || isErased(item) ? undefined : structuredClone(item);
  }

  /** Returns a copy of the contact or its erasure marker. */
  async getForUpdate(contactId: string): Promise<ContactRecord | ErasedContact | undefined> {
    const item = this.#items.get(contactId);
    return item === undefined ? undefined : structuredClone(item);
  }

  #checkVersion(contactId: string, expectedVersion: number | undefined): void {
    const current = this.#items.get(contactId);
    const ok =
      expectedVersion === undefined
        ? current === undefined
        : current !== undefined && current.version === expectedVersion;
    if (!ok) throw new VersionConflictError(contactId, { cause: conditionalCheckFailed() });
  }

  /** Stores a copy if the version is `expectedVersion` (or absent); else VersionConflictError. */
  async commit(record: ContactRecord, expectedVersion: number | undefined): Promise<void> {
    this.#checkVersion(record.contactId, expectedVersion);
    this.#items.set(record.contactId, structuredClone(record));
  }

  /** Removes the given outbox and history entries; a missing contact or entry is a no-op. */
  async clearOutbox(
    contactId: string,
    deliveryIds: string[],
    historySequences: string[] = [],
    countVersions: string[] = [],
  ): Promise<void> {
    const item = this.#items.get(contactId);
    if (item === undefined || isErased(item)) return;
    for (const id of deliveryIds) delete item.outbox[id];
    for (const sequence of historySequences) delete item.pendingHistory?.[sequence];
    for (const version of countVersions) delete item.pendingCounts?.[version];
  }

  /** Replaces the contact with the marker (version-checked) and purges its partition. */
  async erase(marker: ErasedContact, expectedVersion: number | undefined): Promise<void> {
    this.#checkVersion(marker.contactId, expectedVersion);
    this.#items.set(marker.contactId, structuredClone(marker));
    await this.purge(marker.contactId);
  }

  /** Erases the contact's items in every partition member. */
  async purge(contactId: string): Promise<number> {
    return this.#partitionMembers.reduce((sum, member) => sum + member.purge(contactId), 0);
  }

  /** Contacts in a stage, newest stage change first (ties by id, as the index sorts). */
  async listByStage(stage: Stage, page: PageRequest): Promise<Page<ContactSummary>> {
    const summaries = this.all()
      .filter((contact) => contact.stage === stage)
      .sort((a, b) => {
        const keyA = `${a.stageChangedAt}#${a.contactId}`;
        const keyB = `${b.stageChangedAt}#${b.contactId}`;
        return keyA < keyB ? 1 : -1;
      })
      .map(summaryOf);
    return memoryPage(summaries, page);
  }

  /** The contacts whose `flagsDueAt` is past, oldest due first, in one page. */
  async listFlagsDue(now: string): Promise<Page<string>> {
    const items = this.all()
      // As the index compares its sort key `<flagsDueAt>#<contactId>` with `now`.
      .filter(
        (contact) =>
          contact.flagsDueAt !== undefined && `${contact.flagsDueAt}#${contact.contactId}` <= now,
      )
      .sort((a, b) =>
        `${a.flagsDueAt}#${a.contactId}` < `${b.flagsDueAt}#${b.contactId}` ? -1 : 1,
      )
      .map((contact) => contact.contactId);
    return { items };
  }

  /** Copies of every stored contact, erased ones left out (a test helper; not part of ContactStore). */
  all(): ContactRecord[] {
    return [...this.#items.values()]
      .filter((item): item is ContactRecord => !isErased(item))
      .map((item) => structuredClone(item));
  }
}

/** Subscriptions in a Map, listed in insertion order. */
export class MemorySubscriptionStore implements SubscriptionStore {
  readonly #items = new Map<string, SubscriptionRecord>();

  /** Stores a copy, replacing any subscription with the same id. */
  async put(subscription: SubscriptionRecord): Promise<void> {
    this.#items.set(subscription.id, structuredClone(subscription));
  }

  /** Replaces it when still at the revision read, as the DynamoDB store does. */
  async replace(read: SubscriptionRecord, next: SubscriptionRecord): Promise<SubscriptionRecord> {
    const current = this.#items.get(read.id);
    const revision = read.revision ?? 0;
    if (current === undefined || (current.revision ?? 0) !== revision) {
      throw new SubscriptionChangedError(read.id);
    }
    const stored: SubscriptionRecord = { ...next, id: read.id, revision: revision + 1 };
    this.#items.set(read.id, structuredClone(stored));
    return structuredClone(stored);
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

  /** Applies a health change as the DynamoDB store does; a missing subscription is left alone. */
  async recordHealth(id: string, change: SubscriptionHealthChange): Promise<void> {
    const item = this.#items.get(id);
    if (item === undefined) return;
    if (change.failingSince === null) delete item.failingSince;
    else if (change.failingSince !== undefined) item.failingSince ??= change.failingSince;
    if (change.lastSuccessAt !== undefined) item.lastSuccessAt = change.lastSuccessAt;
    if (change.disable !== undefined) {
      item.enabled = false;
      item.disabledReason = change.disable;
    }
    if (
      change.failingSince !== undefined ||
      change.lastSuccessAt !== undefined ||
      change.disable !== undefined
    ) {
      item.revision = (item.revision ?? 0) + 1;
    }
  }
}

const deliveryKey = (contactId: string, deliveryId: string) => `${contactId}\n${deliveryId}`;
const OPEN: ReadonlySet<DeliveryStatus> = new Set(['pending', 'failing']);

/** Deliveries in a Map keyed by subscription and delivery id, like the DynamoDB item keys. */
export class MemoryDeliveryStore implements DeliveryStore, MemoryPartitionMember {
  readonly #items = new Map<string, DeliveryRecord>();
  /** The pending index: key -> when the sweeper should take the delivery. */
  readonly #sweepAt = new Map<string, string>();

  /** Stores a copy unless the delivery exists already; the first one is kept. */
  async putIfAbsent(delivery: DeliveryRecord): Promise<void> {
    const key = deliveryKey(delivery.contactId, delivery.deliveryId);
    if (this.#items.has(key)) return;
    this.#items.set(key, structuredClone(delivery));
    if (OPEN.has(delivery.status)) {
      this.#sweepAt.set(
        key,
        new Date(Date.parse(delivery.createdAt) + NEW_DELIVERY_GRACE_MS).toISOString(),
      );
    }
  }

  /** Returns a copy of the delivery, or undefined. */
  async get(contactId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
    const item = this.#items.get(deliveryKey(contactId, deliveryId));
    return item === undefined ? undefined : structuredClone(item);
  }

  /** Counts the attempt, sets status, lastAttempt (and deliveredAt); throws if missing. */
  async recordAttempt(
    contactId: string,
    deliveryId: string,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
    schedule: { nextAttemptAt?: string; sweepAt?: string; expectedAttemptCount?: number } = {},
  ): Promise<boolean> {
    const key = deliveryKey(contactId, deliveryId);
    const item = this.#items.get(key);
    if (item === undefined) {
      if (schedule.expectedAttemptCount !== undefined) return false;
      throw conditionalCheckFailed();
    }
    if (
      schedule.expectedAttemptCount !== undefined &&
      (item.attemptCount !== schedule.expectedAttemptCount || !OPEN.has(item.status))
    ) {
      return false;
    }
    item.status = status;
    item.lastAttempt = structuredClone(attempt);
    item.attempts = [...(item.attempts ?? []), structuredClone(attempt)];
    item.attemptCount += 1;
    if (status === 'delivered') item.deliveredAt = attempt.at;
    if (schedule.nextAttemptAt !== undefined) item.nextAttemptAt = schedule.nextAttemptAt;
    else delete item.nextAttemptAt;
    if (OPEN.has(status)) this.#sweepAt.set(key, schedule.sweepAt ?? attempt.at);
    else this.#sweepAt.delete(key);
    return true;
  }

  /** Changes the status only; a missing delivery is left alone. */
  async setStatus(contactId: string, deliveryId: string, status: DeliveryStatus): Promise<void> {
    const key = deliveryKey(contactId, deliveryId);
    const item = this.#items.get(key);
    if (item === undefined) return;
    item.status = status;
    if (!OPEN.has(status)) {
      this.#sweepAt.delete(key);
      delete item.nextAttemptAt;
    }
  }

  /** Open deliveries whose sweep time has come, oldest first. */
  async listDue(now: string, limit: number): Promise<DueDelivery[]> {
    return [...this.#sweepAt.entries()]
      .filter(([, at]) => at <= now)
      .sort(([, a], [, b]) => (a < b ? -1 : 1))
      .slice(0, limit)
      .flatMap(([key]) => {
        const item = this.#items.get(key);
        return item === undefined
          ? []
          : [
              {
                contactId: item.contactId,
                deliveryId: item.deliveryId,
                subscriptionId: item.subscriptionId,
              },
            ];
      });
  }

  /** Makes the delivery pending again, due at `sweepAt`; false when there is none. */
  async resume(contactId: string, deliveryId: string, sweepAt: string): Promise<boolean> {
    const key = deliveryKey(contactId, deliveryId);
    const item = this.#items.get(key);
    if (item === undefined) return false;
    item.status = 'pending';
    delete item.nextAttemptAt;
    this.#sweepAt.set(key, sweepAt);
    return true;
  }

  /** A subscription's deliveries, newest first, filtered like the DynamoDB index query. */
  async listBySubscription(
    subscriptionId: string,
    query: { limit: number; cursor?: string; status?: DeliveryStatus; from?: string; to?: string },
  ): Promise<Page<DeliverySummary>> {
    const items = [...this.#items.values()]
      .filter((item) => item.subscriptionId === subscriptionId)
      .filter((item) => query.from === undefined || item.createdAt >= query.from)
      .filter((item) => query.to === undefined || item.createdAt <= query.to)
      .filter((item) => query.status === undefined || item.status === query.status)
      .sort((a, b) =>
        `${a.createdAt}#${a.deliveryId}` < `${b.createdAt}#${b.deliveryId}` ? 1 : -1,
      )
      .map(
        ({ message, nextAttemptAt: _next, ...summary }): DeliverySummary => ({
          ...summary,
          eventType: message.type,
        }),
      );
    return memoryPage(items, query);
  }

  /** A contact's deliveries, newest first, as the DynamoDB store sorts them. */
  async listByContact(contactId: string, page: PageRequest): Promise<Page<DeliverySummary>> {
    const summaries = [...this.#items.values()]
      .filter((item) => item.contactId === contactId)
      .map(
        ({ message, nextAttemptAt: _next, attempts: _attempts, ...summary }): DeliverySummary => ({
          ...summary,
          eventType: message.type,
        }),
      );
    return pageOfDeliveries(structuredClone(summaries), page);
  }

  /** Moves an open delivery's sweep time; false if it is no longer open. */
  async reschedule(contactId: string, deliveryId: string, sweepAt: string): Promise<boolean> {
    const key = deliveryKey(contactId, deliveryId);
    if (!this.#sweepAt.has(key)) return false;
    this.#sweepAt.set(key, sweepAt);
    return true;
  }

  /** Erases the contact's deliveries with it, but the `contact.erased` notices (no personal data). */
  purge(contactId: string): number {
    let count = 0;
    for (const [key, item] of this.#items) {
      if (item.contactId === contactId && item.message.type !== 'contact.erased') {
        this.#items.delete(key);
        this.#sweepAt.delete(key);
        count += 1;
      }
    }
    return count;
  }

  /** Copies of every stored delivery (a test helper; not part of DeliveryStore). */
  all(): DeliveryRecord[] {
    return [...this.#items.values()].map((item) => structuredClone(item));
  }
}

/** In-memory MessageIndexStore (expiry is not modelled: nothing here lives that long). */
export class MemoryMessageIndexStore implements MessageIndexStore, MemoryPartitionMember {
  readonly #messages = new Map<string, string>();
  readonly #replies = new Map<string, ReplyMatch>();

  async put(messageId: string, contactId: string): Promise<void> {
    this.#messages.set(messageId.toLowerCase(), contactId);
  }

  async get(messageId: string): Promise<string | undefined> {
    return this.#messages.get(messageId.toLowerCase());
  }

  async claimReply(replyId: string, match: ReplyMatch): Promise<ReplyMatch> {
    const prior = this.#replies.get(replyId);
    if (prior !== undefined) return { ...prior };
    this.#replies.set(replyId, { ...match });
    return match;
  }

  async replyMatch(replyId: string): Promise<ReplyMatch | undefined> {
    const match = this.#replies.get(replyId);
    return match === undefined ? undefined : { ...match };
  }

  /** Erases the contact's index entries and reply matches with it. */
  purge(contactId: string): number {
    let count = 0;
    for (const [id, owner] of this.#messages) {
      if (owner === contactId) {
        this.#messages.delete(id);
        count += 1;
      }
    }
    for (const [id, match] of this.#replies) {
      if (match.contactId === contactId) {
        this.#replies.delete(id);
        count += 1;
      }
    }
    return count;
  }
}

/** A cursor for memory pages: the offset, opaque like DynamoDB's. */
function memoryPage<T>(items: T[], page: PageRequest): Page<T> {
  let offset = 0;
  if (page.cursor !== undefined) {
    offset = Number(Buffer.from(page.cursor, 'base64url').toString('utf8'));
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new InvalidCursorError('The cursor is not valid for this list.');
  }
  const slice = items.slice(offset, offset + page.limit);
  const next =
    offset + page.limit < items.length
      ? Buffer.from(String(offset + page.limit)).toString('base64url')
      : undefined;
  return { items: structuredClone(slice), ...(next ? { nextCursor: next } : {}) };
}

/** Timelines and stage histories in Maps; a partition member of the contact store. */
export class MemoryHistoryStore implements HistoryStore, MemoryPartitionMember {
  readonly #timelines = new Map<string, Map<string, TimelineEntry>>();
  readonly #histories = new Map<string, Map<number, StageChange & ChangedContact>>();

  async putTimeline(entry: TimelineEntry): Promise<void> {
    const timeline = this.#timelines.get(entry.contactId) ?? new Map<string, TimelineEntry>();
    timeline.set(`${entry.occurredAt}#${entry.eventId}`, structuredClone(entry));
    this.#timelines.set(entry.contactId, timeline);
  }

  async putStageChange(change: StageChange, contact: ChangedContact): Promise<void> {
    const history =
      this.#histories.get(change.contactId) ?? new Map<number, StageChange & ChangedContact>();
    history.set(change.sequence, structuredClone({ ...change, ...contact }));
    this.#histories.set(change.contactId, history);
  }

  async recentStageChanges(
    query: PageRequest & { stage?: Stage | undefined },
  ): Promise<Page<ListedStageChange>> {
    const before = decodeBeforeCursor(query.cursor, isStageChangeSortKey);
    const changes = [...this.#histories.values()]
      .flatMap((history) => [...history.values()])
      .filter((change) => query.stage === undefined || change.to === query.stage)
      .filter((change) => before === undefined || stageChangeSortKey(change) < before)
      .sort((a, b) => (stageChangeSortKey(a) < stageChangeSortKey(b) ? 1 : -1));
    const items = changes
      .slice(0, query.limit)
      .map(({ flags: _flags, ...listed }): ListedStageChange => listed);
    const last = items.at(-1);
    return {
      items: structuredClone(items),
      ...(changes.length > query.limit && last !== undefined
        ? { nextCursor: encodeBeforeCursor(stageChangeSortKey(last)) }
        : {}),
    };
  }

  async timeline(contactId: string, page: PageRequest): Promise<Page<TimelineEntry>> {
    const entries = [...(this.#timelines.get(contactId)?.entries() ?? [])]
      .sort(([a], [b]) => (a < b ? 1 : -1))
      .map(([, entry]) => entry);
    return memoryPage(entries, page);
  }

  async stageHistory(contactId: string, page: PageRequest): Promise<Page<StageChange>> {
    const changes = [...(this.#histories.get(contactId)?.values() ?? [])]
      .sort((a, b) => a.sequence - b.sequence)
      .map(({ email: _email, summary: _summary, ...change }): StageChange => change);
    return memoryPage(changes, page);
  }

  purge(contactId: string): number {
    const count =
      (this.#timelines.get(contactId)?.size ?? 0) + (this.#histories.get(contactId)?.size ?? 0);
    this.#timelines.delete(contactId);
    this.#histories.delete(contactId);
    return count;
  }
}

/** The counters and markers in memory, with the same token rules as the table. */
export class MemoryFunnelStore implements FunnelStore {
  readonly #markers = new Map<string, CountedMarker>();
  readonly #counters = new Map<
    string,
    { values: Record<string, number>; applying: Set<string>; recent: Map<string, Set<string>> }
  >();

  async counted(contactId: string): Promise<CountedMarker | undefined> {
    const marker = this.#markers.get(contactId);
    return marker === undefined ? undefined : structuredClone(marker);
  }

  async claim(
    contactId: string,
    marker: CountedMarker,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    const stored = this.#markers.get(contactId);
    const ok =
      expectedVersion === undefined ? stored === undefined : stored?.version === expectedVersion;
    if (!ok) return false;
    this.#markers.set(contactId, structuredClone(marker));
    return true;
  }

  #counter(sk: string) {
    let counter = this.#counters.get(sk);
    if (counter === undefined) {
      counter = { values: {}, applying: new Set(), recent: new Map() };
      this.#counters.set(sk, counter);
    }
    return counter;
  }

  async apply(intent: CountIntent, options: ApplyOptions = {}): Promise<void> {
    options.abortSignal?.throwIfAborted();
    for (const { key, add } of counterUpdates(intent)) {
      const counter = this.#counter(key.sk);
      const seen =
        counter.applying.has(intent.token) ||
        [...counter.recent.values()].some((tokens) => tokens.has(intent.token));
      if (seen) continue;
      for (const [name, delta] of Object.entries(add)) {
        counter.values[name] = (counter.values[name] ?? 0) + delta;
      }
      counter.applying.add(intent.token);
    }
  }

  async settle(contactId: string, intent: CountIntent, now: Date): Promise<void> {
    const marker = this.#markers.get(contactId);
    if (marker?.pending?.token === intent.token) delete marker.pending;
    const { add, drop } = recentSets(now);
    for (const { key } of counterUpdates(intent)) {
      const counter = this.#counter(key.sk);
      counter.applying.delete(intent.token);
      counter.recent.delete(drop);
      const recent = counter.recent.get(add) ?? new Set<string>();
      recent.add(intent.token);
      counter.recent.set(add, recent);
    }
  }

  /** The counter items whose sort key is in [low, high], as the table would return them. */
  #items(low: string, high: string): Record<string, unknown>[] {
    return [...this.#counters.entries()]
      .filter(([sk]) => sk >= low && sk <= high)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([sk, counter]) => ({ sk, ...counter.values }));
  }

  async current(): Promise<CurrentCounts> {
    const prefix = keys.funnelCurrentPrefix;
    return sumCurrent(this.#items(prefix, `${prefix}~`));
  }

  async enteredByDay(from: string, to: string): Promise<DayCounts[]> {
    const { low, high } = keys.funnelDays(from, to);
    return sumDays(this.#items(low, high));
  }

  /** Tokens each counter item still remembers (a test helper: they must stay few). */
  rememberedTokens(): number {
    let count = 0;
    for (const counter of this.#counters.values()) {
      count += counter.applying.size;
      for (const tokens of counter.recent.values()) count += tokens.size;
    }
    return count;
  }
}

/** The ageing pass's state in memory. */
export class MemoryAgeingStateStore implements AgeingStateStore {
  #state: AgeingState | undefined;

  async get(): Promise<AgeingState | undefined> {
    return this.#state === undefined ? undefined : structuredClone(this.#state);
  }

  async put(state: AgeingState): Promise<void> {
    this.#state = structuredClone(state);
  }
}
