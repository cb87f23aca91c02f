import { createHash } from 'node:crypto';

/**
 * A contact's id is derived from its normalized email, so every event for one address
 * lands on one item without a lookup or a uniqueness race.
 */
export function contactIdFor(normalizedEmail: string): string {
  return `ct_${createHash('sha256').update(normalizedEmail).digest('hex').slice(0, 24)}`;
}

/** The global secondary indexes of the single table (docs/data-model.md). */
export const INDEX = {
  /** Contacts by stage, newest stage change first. */
  byStage: 'byStage',
  /** Deliveries per subscription, newest first. */
  bySubscription: 'bySubscription',
  /** Deliveries still to be sent, by due time (sparse). */
  pendingDeliveries: 'pendingDeliveries',
  /** Stage changes across contacts by the stage changed to, newest first. */
  stageChanges: 'stageChanges',
  /** Contacts by when time next moves one of their flags (sparse): the ageing pass. */
  flagsDue: 'flagsDue',
} as const;

const FLAGS_DUE_PARTITION = 'FLAGS_DUE';
const pad = (sequence: number) => String(sequence).padStart(8, '0');
const padShard = (shard: number) => String(shard).padStart(2, '0');

/**
 * Every key of the single table. One contact's items share its partition, so reading a
 * contact's history and erasing a contact are one Query each.
 */
export const keys = {
  contact: (contactId: string) => ({ pk: `CONTACT#${contactId}`, sk: 'CONTACT' }),
  contactPartition: (contactId: string) => `CONTACT#${contactId}`,
  timeline: (contactId: string, occurredAt: string, eventId: string) => ({
    pk: `CONTACT#${contactId}`,
    sk: `TIMELINE#${occurredAt}#${eventId}`,
  }),
  timelinePrefix: 'TIMELINE#',
  stageHistory: (contactId: string, sequence: number) => ({
    pk: `CONTACT#${contactId}`,
    sk: `STAGE#${pad(sequence)}`,
  }),
  stageHistoryPrefix: 'STAGE#',
  /** The stageChanges index key of a stage-change item: one partition per stage changed to. */
  stageChangeByStage: (to: string, at: string, contactId: string, sequence: number) => ({
    gsi4pk: `CHANGES#${to}`,
    gsi4sk: `${at}#${contactId}#${pad(sequence)}`,
  }),
  /**
   * What the funnel counters have counted of a contact: its stage, flags and the version they
   * are from. Kept through erasure (it holds no personal data), so a late projection of an
   * older version is still recognised as old.
   */
  counted: (contactId: string) => ({ pk: `CONTACT#${contactId}`, sk: 'COUNTED' }),
  countedSk: 'COUNTED',
  /**
   * One shard of the funnel's current counts per stage, plus not-contactable, stale and total;
   * the counts are the sum over the shards (lib/store/funnel-store.ts, FUNNEL_SHARDS).
   */
  funnelCurrent: (shard: number) => ({ pk: 'FUNNEL', sk: `CURRENT#${padShard(shard)}` }),
  funnelCurrentPrefix: 'CURRENT#',
  /** One shard of the stage changes into each stage on one UTC day (yyyy-mm-dd). */
  funnelDay: (day: string, shard: number) => ({
    pk: 'FUNNEL',
    sk: `DAY#${day}#${padShard(shard)}`,
  }),
  /** The sort-key range of every shard of the UTC days from `from` to `to`, both included. */
  funnelDays: (from: string, to: string) => ({ low: `DAY#${from}#`, high: `DAY#${to}#~` }),
  funnelPartition: 'FUNNEL',
  /** The flagsDue index key of a contact item whose flags time will move (`flagsDueAt`). */
  flagsDue: (flagsDueAt: string, contactId: string) => ({
    gsi5pk: FLAGS_DUE_PARTITION,
    gsi5sk: `${flagsDueAt}#${contactId}`,
  }),
  flagsDuePartition: FLAGS_DUE_PARTITION,
  /** The byStage index key of a contact item. */
  byStage: (stage: string, stageChangedAt: string, contactId: string) => ({
    gsi1pk: `STAGE#${stage}`,
    gsi1sk: `${stageChangedAt}#${contactId}`,
  }),
  subscription: (subscriptionId: string) => ({
    pk: 'SUBSCRIPTION',
    sk: `SUBSCRIPTION#${subscriptionId}`,
  }),
  subscriptionPartition: 'SUBSCRIPTION',
  /** What the ageing pass keeps between runs (lib/store/ageing-state-store.ts). */
  ageingState: { pk: 'AGEING', sk: 'STATE' },
  message: (messageId: string) => ({ pk: `MESSAGE#${messageId.toLowerCase()}`, sk: 'MESSAGE' }),
  replyMatch: (replyId: string) => ({ pk: `REPLY#${replyId}`, sk: 'REPLY' }),
  /** A contact's reference to one of its items outside its partition, so erasure finds it. */
  reference: (contactId: string, kind: 'MESSAGE' | 'REPLY', id: string) => ({
    pk: `CONTACT#${contactId}`,
    sk: `REF#${kind}#${kind === 'MESSAGE' ? id.toLowerCase() : id}`,
  }),
  /** The global item a reference (its sort key) points at. */
  referenced: (referenceSk: string) => {
    const [, kind, ...rest] = referenceSk.split('#');
    const id = rest.join('#');
    return kind === 'MESSAGE'
      ? { pk: `MESSAGE#${id}`, sk: 'MESSAGE' }
      : kind === 'REPLY'
        ? { pk: `REPLY#${id}`, sk: 'REPLY' }
        : undefined;
  },
  /** Deliveries live in their contact's partition: erasing the contact erases them. */
  delivery: (contactId: string, deliveryId: string) => ({
    pk: `CONTACT#${contactId}`,
    sk: `DELIVERY#${deliveryId}`,
  }),
  /** The bySubscription index key of a delivery item. */
  deliveryBySubscription: (subscriptionId: string, createdAt: string, deliveryId: string) => ({
    gsi2pk: `SUBSCRIPTION#${subscriptionId}`,
    gsi2sk: `${createdAt}#${deliveryId}`,
  }),
  /** The sparse pendingDeliveries index key: only deliveries still to be sent carry it. */
  pendingDelivery: (dueAt: string, deliveryId: string) => ({
    gsi3pk: 'PENDING',
    gsi3sk: `${dueAt}#${deliveryId}`,
  }),
} as const;
