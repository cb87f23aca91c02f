import type { AppConfig } from '../config/app-config.ts';
import { deliveryIdFor } from '../delivery/ids.ts';
import type { DeliveryJob } from '../delivery/job.ts';
import type { WebhookContact, WebhookMessage } from '../delivery/message.ts';
import { crmValuesFor } from '../domain/crm.ts';
import type { LeadEvent } from '../domain/events.ts';
import {
  type ContactFacts,
  emptyFacts,
  hasSeen,
  mergeFacts,
  nameAndCompany,
  rememberEvent,
} from '../domain/facts.ts';
import { deriveStage, nextFlagChangeAt, stageDirection } from '../domain/stage.ts';
import type { Logger } from '../observability/logger.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import {
  type ContactRecord,
  type ContactStore,
  isErased,
  type OutboxEntry,
  type StageChange,
} from '../store/contact-store.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import { VersionConflictError } from '../store/errors.ts';
import { allSettledOrThrow, type FunnelStore } from '../store/funnel-store.ts';
import type { HistoryStore } from '../store/history-store.ts';
import { contactIdFor } from '../store/keys.ts';
import type { MessageIndexStore } from '../store/message-index-store.ts';
import { type SubscriptionStore, wants } from '../store/subscription-store.ts';
import { countContact } from './count-contact.ts';

const MAX_COMMIT_ATTEMPTS = 8;

export interface ClassifyDeps {
  /** Qualification criteria and CRM vocabulary. */
  config: Pick<AppConfig, 'qualification' | 'crm'>;
  contacts: ContactStore;
  subscriptions: SubscriptionStore;
  deliveries: DeliveryStore;
  deliveryQueue: MessageQueue;
  messages: MessageIndexStore;
  history: HistoryStore;
  /** The funnel counters, moved with each change of a contact's stage or counted flags. */
  funnel: FunnelStore;
  /** The ingest DLQ: unreadable messages are parked there with the reason. */
  deadLetters?: MessageQueue;
  now: () => Date;
  logger: Logger;
}

/** `erased`: the contact was erased and the event is not a fresh opt-in after it, so it was dropped. */
export type ApplyOutcome = 'applied' | 'stage_changed' | 'duplicate' | 'erased';

export { deliveryIdFor } from '../delivery/ids.ts';

/** The contact as webhooks show it: id, email and the profile fields a CRM maps. */
function webhookContact(contactId: string, facts: ContactFacts): WebhookContact {
  const contact: WebhookContact = { id: contactId, email: facts.email };
  for (const field of ['name', 'firstName', 'lastName', 'company', 'jobTitle'] as const) {
    const value = facts.profile[field]?.value;
    if (value !== undefined) contact[field] = value;
  }
  return contact;
}

/** Event kinds that are a fresh opt-in: after an erasure, only these bring a contact back. */
const FRESH_OPT_IN: ReadonlySet<LeadEvent['kind']> = new Set([
  'form_submitted',
  'consent_given',
  'contact_imported',
]);

/** What the timeline keeps of an event besides its kind, source and time: no more than it said. */
export function timelineDetails(event: LeadEvent): Record<string, unknown> {
  switch (event.kind) {
    case 'form_submitted':
      return {
        formId: event.formId,
        ...(event.attribution ? { attribution: event.attribution } : {}),
        consent: event.consent !== undefined,
      };
    case 'email_replied':
      return {
        matchMethod: event.matchMethod,
        ...(event.excerpt ? { excerpt: event.excerpt } : {}),
      };
    case 'email_clicked':
      return event.url ? { url: event.url } : {};
    case 'email_bounced':
      return { bounceType: event.bounceType };
    case 'call_logged':
      return { direction: event.direction, reached: event.reached };
    case 'site_visited':
      return event.url ? { url: event.url } : {};
    case 'budget_confirmed':
      return event.budget ? { budget: event.budget } : {};
    case 'decision_maker_identified':
      return { isDecisionMaker: event.isDecisionMaker };
    case 'profile_updated':
    case 'contact_imported':
      return { fields: Object.keys(event.profile) };
    default:
      return {};
  }
}

async function nextRecord(
  current: ContactRecord | undefined,
  event: LeadEvent,
  contactId: string,
  deps: ClassifyDeps,
  base: { version: number; sequence: number } = { version: 0, sequence: 0 },
): Promise<{ record: ContactRecord; changed: boolean }> {
  const now = deps.now();
  const facts = mergeFacts(current?.facts ?? emptyFacts(event.email), event);
  const verdict = deriveStage(facts, deps.config.qualification, now);
  const from = current?.stage ?? null;
  const changed = from !== verdict.stage;
  const sequence = (current?.sequence ?? base.sequence) + (changed ? 1 : 0);
  const outbox: Record<string, OutboxEntry> = { ...current?.outbox };
  const pendingHistory: Record<string, StageChange> = { ...current?.pendingHistory };
  if (changed) {
    const direction = stageDirection(from, verdict.stage);
    const message: WebhookMessage = {
      type: 'contact.stage_changed',
      timestamp: now.toISOString(),
      data: {
        contact: webhookContact(contactId, facts),
        from,
        to: verdict.stage,
        direction,
        reasons: verdict.reasons,
        missing: verdict.missing,
        qualification: verdict.qualification,
        flags: verdict.flags,
        crm: crmValuesFor(verdict.stage, deps.config.crm),
        sequence,
        causedBy: event.id,
      },
    };
    for (const subscription of await deps.subscriptions.list()) {
      if (!subscription.enabled || !wants(subscription, 'contact.stage_changed', verdict.stage))
        continue;
      const deliveryId = deliveryIdFor(contactId, sequence, subscription.id);
      outbox[deliveryId] = {
        deliveryId,
        subscriptionId: subscription.id,
        message,
        ...(subscription.enabled ? {} : { paused: true }),
      };
    }
    pendingHistory[String(sequence)] = {
      contactId,
      sequence,
      from,
      to: verdict.stage,
      direction,
      reasons: verdict.reasons,
      missing: verdict.missing,
      flags: verdict.flags,
      at: now.toISOString(),
      causedBy: event.id,
    };
  }
  // The CRM must learn at once when a contact may no longer be contacted, stage change or not.
  const becameUncontactable = (current?.flags.contactable ?? true) && !verdict.flags.contactable;
  if (becameUncontactable) {
    const message: WebhookMessage = {
      type: 'contact.not_contactable',
      timestamp: now.toISOString(),
      data: {
        contact: webhookContact(contactId, facts),
        stage: verdict.stage,
        reasons: verdict.reasons.filter((reason) => reason.code.startsWith('not_contactable_')),
        flags: verdict.flags,
        causedBy: event.id,
      },
    };
    for (const subscription of await deps.subscriptions.list()) {
      if (!subscription.enabled || !wants(subscription, 'contact.not_contactable')) continue;
      const deliveryId = deliveryIdFor(contactId, `not_contactable:${event.id}`, subscription.id);
      outbox[deliveryId] = { deliveryId, subscriptionId: subscription.id, message };
    }
  }
  const version = (current?.version ?? base.version) + 1;
  // The funnel counts stage, contactable and stale: a commit that changes any of them owes
  // the counters an update, kept on the item until it is made (as pendingHistory is).
  const pendingCounts: Record<string, true> = { ...current?.pendingCounts };
  if (
    current === undefined ||
    changed ||
    current.flags.contactable !== verdict.flags.contactable ||
    current.flags.stale !== verdict.flags.stale
  ) {
    pendingCounts[String(version)] = true;
  }
  const flagsDueAt = nextFlagChangeAt(facts, deps.config.qualification, verdict.flags);
  const record: ContactRecord = {
    contactId,
    email: facts.email,
    facts,
    stage: verdict.stage,
    stageChangedAt: changed || current === undefined ? now.toISOString() : current.stageChangedAt,
    reasons: verdict.reasons,
    missing: verdict.missing,
    qualification: verdict.qualification,
    flags: verdict.flags,
    sequence,
    version,
    seen: rememberEvent(current?.seen ?? {}, event.id, now),
    outbox,
    pendingHistory,
    pendingCounts,
    ...(flagsDueAt !== undefined ? { flagsDueAt } : {}),
    updatedAt: now.toISOString(),
  };
  return { record, changed };
}

/**
 * Turns what the commit left pending into their own items: stage-history entries,
 * delivery items and delivery-queue messages, and the funnel counters; then clears them
 * from the contact. Every step is idempotent, so a crash anywhere is repaired by re-running this.
 */
export async function projectOutbox(record: ContactRecord, deps: ClassifyDeps): Promise<void> {
  const deliveries = Object.values(record.outbox);
  const history = Object.entries(record.pendingHistory ?? {});
  const counts = Object.keys(record.pendingCounts ?? {});
  if (deliveries.length === 0 && history.length === 0 && counts.length === 0) return;
  const listed = { email: record.email, summary: nameAndCompany(record.facts) };
  // Every projection is awaited even when one fails: the count must never go on running
  // after the handler returned (lib/store/funnel-store.ts, APPLY_WINDOW_MS).
  await allSettledOrThrow([
    ...history.map(([, change]) => deps.history.putStageChange(change, listed)),
    // Counted before the history entries are cleared: a later version's count needs the
    // changes this one has not counted yet.
    ...(counts.length > 0
      ? [
          countContact(
            record.contactId,
            {
              stage: record.stage,
              contactable: record.flags.contactable,
              stale: record.flags.stale,
              version: record.version,
              sequence: record.sequence,
            },
            history.map(([, change]) => change),
            deps,
          ),
        ]
      : []),
    ...deliveries.map(async (entry) => {
      await deps.deliveries.putIfAbsent({
        deliveryId: entry.deliveryId,
        subscriptionId: entry.subscriptionId,
        contactId: record.contactId,
        message: entry.message,
        status: entry.paused ? 'paused' : 'pending',
        attemptCount: 0,
        createdAt: entry.message.timestamp,
      });
      if (entry.paused) return;
      const job: DeliveryJob = {
        v: 1,
        contactId: record.contactId,
        subscriptionId: entry.subscriptionId,
        deliveryId: entry.deliveryId,
      };
      await deps.deliveryQueue.send(JSON.stringify(job));
    }),
  ]);
  await deps.contacts.clearOutbox(
    record.contactId,
    deliveries.map((entry) => entry.deliveryId),
    history.map(([sequence]) => sequence),
    counts,
  );
}

/** The per-event projections: the timeline entry and the Message-ID index. */
async function projectEvent(
  event: LeadEvent,
  record: ContactRecord,
  deps: ClassifyDeps,
): Promise<void> {
  const now = deps.now();
  const { contactId } = record;
  await deps.history.putTimeline({
    contactId,
    eventId: event.id,
    kind: event.kind,
    source: event.source,
    occurredAt: event.occurredAt,
    // The time of the commit, the same on every re-run of this projection.
    appliedAt: record.seen[event.id] ?? now.toISOString(),
    details: timelineDetails(event),
  });
  // Indexes the outbound mail an email event names, so replies to it find this contact.
  if ('messageId' in event && event.messageId !== undefined) {
    await deps.messages.put(event.messageId, contactId, now);
  }
}

/**
 * Commits the contact over the version read. When another writer committed first, waits a
 * jittered while that grows with `attempt` and resolves false: the caller reads again and
 * retries, up to MAX_COMMIT_ATTEMPTS, after which the conflict is thrown (SQS retries it).
 */
export async function commitOrBackOff(
  record: ContactRecord,
  expectedVersion: number | undefined,
  attempt: number,
  deps: Pick<ClassifyDeps, 'contacts' | 'logger'>,
): Promise<boolean> {
  try {
    await deps.contacts.commit(record, expectedVersion);
    return true;
  } catch (error) {
    if (!(error instanceof VersionConflictError) || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
    deps.logger.debug('version conflict, retrying', { contactId: record.contactId, attempt });
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** attempt));
    return false;
  }
}

/**
 * Applies one event to its contact: merge, derive, one conditional write, then the
 * projections. Safe to call any number of times with the same event.
 */
export async function applyEvent(event: LeadEvent, deps: ClassifyDeps): Promise<ApplyOutcome> {
  const contactId = contactIdFor(event.email);
  for (let attempt = 1; ; attempt++) {
    const stored = await deps.contacts.getForUpdate(contactId);
    let current: ContactRecord | undefined;
    let erasedBefore: string | undefined;
    if (isErased(stored)) {
      // After an erasure only a fresh opt-in made after it brings the contact back; late
      // provider retries and anything else about the erased person are dropped.
      if (event.occurredAt <= stored.erasedAt || !FRESH_OPT_IN.has(event.kind)) return 'erased';
      erasedBefore = stored.erasedAt;
    } else {
      current = stored;
      erasedBefore = stored?.erasedBefore;
      // A contact that came back never takes an event of the erased person's time.
      if (erasedBefore !== undefined && event.occurredAt <= erasedBefore) return 'erased';
    }
    if (current !== undefined && hasSeen(current.seen, event.id)) {
      // Already committed; the projections may not have run before a crash.
      await projectOutbox(current, deps);
      // A redelivered message carries the time it was committed with. A client that sent the
      // event again without `occurredAt` got the time of its second request, later than the
      // first commit: re-projecting that copy would add a second timeline row for one event.
      const committedAt = current.seen[event.id];
      if (committedAt === undefined || event.occurredAt <= committedAt) {
        await projectEvent(event, current, deps);
      }
      return 'duplicate';
    }
    // A returning contact continues the marker's version and sequence, so its webhooks get
    // new ids and a receiver's ordering still holds.
    const base = isErased(stored)
      ? { version: stored.version, sequence: stored.sequence }
      : undefined;
    const { record, changed } = await nextRecord(current, event, contactId, deps, base);
    if (erasedBefore !== undefined) record.erasedBefore = erasedBefore;
    if (!(await commitOrBackOff(record, stored?.version, attempt, deps))) continue;
    await projectOutbox(record, deps);
    await projectEvent(event, record, deps);
    return changed ? 'stage_changed' : 'applied';
  }
}
