import type {
  Attribution,
  Consent,
  LeadEvent,
  LeadEventKind,
  Money,
  Profile,
  ProfileField,
  ReplyMatchMethod,
} from './events.ts';

/**
 * A value with the time of the event that set it and that event's id: later events win
 * whatever order they arrive in, and the id breaks ties between events of the same instant.
 */
export interface Stamped<T> {
  value: T;
  at: string;
  by: string;
}

/**
 * What the facts count: every event kind, plus the sub-kinds the stage rules need
 * (an answered call, a hard bounce).
 */
export type Signal = LeadEventKind | 'call_answered' | 'email_bounced_hard' | 'email_bounced_soft';

/** The signals that are answers: two-way, 1:1 communication. */
export const ANSWER_SIGNALS = [
  'email_replied',
  'call_answered',
  'meeting_held',
  'mail_answered',
] as const satisfies readonly Signal[];

/** How many outbound touch times are kept for the cadence ceiling. */
export const MAX_KEPT_TOUCHES = 50;

/**
 * Everything known about one contact, accumulated from its events. `mergeFacts` is
 * commutative and associative (see `combineFacts`); idempotence per event id comes from the
 * caller's seen-id set (`rememberEvent`).
 */
export interface ContactFacts {
  email: string;
  profile: { [K in ProfileField]?: Stamped<NonNullable<Profile[K]>> };
  /** Distinct events per signal. */
  counts: Partial<Record<Signal, number>>;
  first: Partial<Record<Signal, string>>;
  last: Partial<Record<Signal, string>>;
  firstSeenAt: string;
  lastSeenAt: string;
  /** How the latest reply was matched to this contact. */
  replyMatch?: Stamped<ReplyMatchMethod>;
  /** The latest consent given, as evidence. */
  consent?: Stamped<Consent>;
  /** First touch is the earliest attribution ever seen (write-once); last touch the latest. */
  attribution?: { first: Stamped<Attribution>; last: Stamped<Attribution> };
  budget?: Stamped<Money>;
  /** Whether this contact is the decision maker, as last recorded. */
  decisionMaker?: Stamped<boolean>;
  /** Times of the latest outbound touches (deliveries, outbound calls), newest first, as `at|eventId`. */
  outboundTouches: string[];
}

/** The name and company a list of contacts shows, from the facts' latest values. */
export function nameAndCompany(facts: ContactFacts): {
  name?: string;
  firstName?: string;
  lastName?: string;
  company?: string;
} {
  const { name, firstName, lastName, company } = facts.profile;
  return {
    ...(name ? { name: name.value } : {}),
    ...(firstName ? { firstName: firstName.value } : {}),
    ...(lastName ? { lastName: lastName.value } : {}),
    ...(company ? { company: company.value } : {}),
  };
}

/** The facts of a contact with no events yet. */
export function emptyFacts(email: string): ContactFacts {
  return {
    email,
    profile: {},
    counts: {},
    first: {},
    last: {},
    firstSeenAt: '',
    lastSeenAt: '',
    outboundTouches: [],
  };
}

/** True when `a` was set after `b` (ties broken by event id, so every replica agrees). */
function isLater<T>(a: Stamped<T>, b: Stamped<T>): boolean {
  return a.at > b.at || (a.at === b.at && a.by > b.by);
}

function latest<T>(a: Stamped<T> | undefined, b: Stamped<T> | undefined): Stamped<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return isLater(b, a) ? b : a;
}

function earliest<T>(a: Stamped<T> | undefined, b: Stamped<T> | undefined): Stamped<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return isLater(b, a) ? a : b;
}

// ISO-8601 UTC instants compare correctly as strings; '' means "never".
const minTime = (a: string, b: string) => (a === '' ? b : b === '' ? a : a < b ? a : b);
const maxTime = (a: string, b: string) => (a > b ? a : b);

/** The signals one event counts towards. */
export function signalsOf(event: LeadEvent): Signal[] {
  switch (event.kind) {
    case 'call_logged':
      return event.direction === 'inbound' || event.reached
        ? ['call_logged', 'call_answered']
        : ['call_logged'];
    case 'email_bounced':
      return [
        'email_bounced',
        event.bounceType === 'hard' ? 'email_bounced_hard' : 'email_bounced_soft',
      ];
    default:
      return [event.kind];
  }
}

function isOutboundTouch(event: LeadEvent): boolean {
  return (
    event.kind === 'email_delivered' ||
    (event.kind === 'call_logged' && event.direction === 'outbound')
  );
}

function profileOf(event: LeadEvent): Profile | undefined {
  switch (event.kind) {
    case 'form_submitted':
    case 'contact_imported':
    case 'profile_updated':
      return event.profile;
    default:
      return undefined;
  }
}

function attributionOf(event: LeadEvent): Attribution | undefined {
  if (event.kind === 'form_submitted' || event.kind === 'site_visited') {
    const attribution = event.attribution;
    if (
      attribution !== undefined &&
      Object.values(attribution).some((value) => value !== undefined)
    ) {
      return attribution;
    }
  }
  return undefined;
}

function consentOf(event: LeadEvent): Consent | undefined {
  if (event.kind === 'consent_given') return event.consent;
  if (event.kind === 'form_submitted') return event.consent;
  return undefined;
}

/** The facts one event alone establishes; merging is then a join of two fact sets. */
export function factsOf(event: LeadEvent): ContactFacts {
  // The schema already normalizes times to UTC; normalizing again keeps string comparison
  // right for an event built in code with an offset or without milliseconds.
  const at = new Date(event.occurredAt).toISOString();
  const stamp = <T>(value: T): Stamped<T> => ({ value, at, by: event.id });
  const facts = emptyFacts(event.email);
  facts.firstSeenAt = at;
  facts.lastSeenAt = at;
  for (const signal of signalsOf(event)) {
    facts.counts[signal] = 1;
    facts.first[signal] = at;
    facts.last[signal] = at;
  }
  const profile = profileOf(event);
  if (profile !== undefined) {
    for (const [field, value] of Object.entries(profile)) {
      // An empty value is no information: it must not overwrite a known one.
      if (value === undefined || value === '') continue;
      (facts.profile as Record<string, Stamped<unknown>>)[field] = stamp(value);
    }
  }
  if (event.kind === 'email_replied') facts.replyMatch = stamp(event.matchMethod);
  const consent = consentOf(event);
  if (consent !== undefined) facts.consent = stamp(consent);
  const attribution = attributionOf(event);
  if (attribution !== undefined)
    facts.attribution = { first: stamp(attribution), last: stamp(attribution) };
  if (event.kind === 'budget_confirmed' && event.budget !== undefined)
    facts.budget = stamp(event.budget);
  if (event.kind === 'decision_maker_identified')
    facts.decisionMaker = stamp(event.isDecisionMaker);
  if (isOutboundTouch(event)) facts.outboundTouches = [`${at}|${event.id}`];
  return facts;
}

function joinRecords<T>(
  a: Partial<Record<string, T>>,
  b: Partial<Record<string, T>>,
  join: (x: T, y: T) => T,
): Partial<Record<string, T>> {
  const out: Partial<Record<string, T>> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    if (value === undefined) continue;
    const mine = out[key];
    out[key] = mine === undefined ? value : join(mine, value);
  }
  return out;
}

/**
 * Joins the facts of two disjoint sets of events into the facts of their union.
 * Commutative and associative: counts add, first/last take min/max, stamped values keep
 * the latest (first-touch attribution the earliest), touch lists keep the newest N.
 */
export function combineFacts(a: ContactFacts, b: ContactFacts): ContactFacts {
  const combined: ContactFacts = {
    email: a.email,
    profile: joinRecords<Stamped<unknown>>(
      a.profile,
      b.profile,
      (x, y) => latest(x, y) ?? x,
    ) as ContactFacts['profile'],
    counts: joinRecords(a.counts, b.counts, (x, y) => x + y),
    first: joinRecords(a.first, b.first, minTime),
    last: joinRecords(a.last, b.last, maxTime),
    firstSeenAt: minTime(a.firstSeenAt, b.firstSeenAt),
    lastSeenAt: maxTime(a.lastSeenAt, b.lastSeenAt),
    outboundTouches: [...new Set([...a.outboundTouches, ...b.outboundTouches])]
      .sort()
      .reverse()
      .slice(0, MAX_KEPT_TOUCHES),
  };
  const replyMatch = latest(a.replyMatch, b.replyMatch);
  if (replyMatch) combined.replyMatch = replyMatch;
  const consent = latest(a.consent, b.consent);
  if (consent) combined.consent = consent;
  const budget = latest(a.budget, b.budget);
  if (budget) combined.budget = budget;
  const decisionMaker = latest(a.decisionMaker, b.decisionMaker);
  if (decisionMaker) combined.decisionMaker = decisionMaker;
  if (a.attribution || b.attribution) {
    const first = earliest(a.attribution?.first, b.attribution?.first);
    const last = latest(a.attribution?.last, b.attribution?.last);
    if (first && last) combined.attribution = { first, last };
  }
  return combined;
}

/**
 * Merges one event into the facts. Order does not matter: merging the same events in any
 * order gives the same facts. The caller must not merge one event twice (`rememberEvent`).
 */
export function mergeFacts(facts: ContactFacts, event: LeadEvent): ContactFacts {
  return combineFacts(facts, factsOf(event));
}

/**
 * How long an applied event id is remembered. It covers SQS's 14-day retention and every
 * provider's retry window (the longest, SendGrid's, is 72 hours) with room to spare.
 */
export const DEDUPE_WINDOW_DAYS = 30;
/** The most ids kept per contact, so the contact item stays small whatever the traffic. */
export const MAX_SEEN_IDS = 500;

/** Event id -> when it was applied. */
export type SeenIds = Record<string, string>;

/** True when the event was applied within the dedupe window. */
export function hasSeen(seen: SeenIds, eventId: string): boolean {
  return Object.hasOwn(seen, eventId);
}

/**
 * Records an applied event id and forgets ids older than the dedupe window (and, past
 * MAX_SEEN_IDS, the oldest), so the set stays bounded.
 */
export function rememberEvent(seen: SeenIds, eventId: string, now: Date): SeenIds {
  const cutoff = new Date(now.getTime() - DEDUPE_WINDOW_DAYS * 86_400_000).toISOString();
  const kept = Object.entries({ ...seen, [eventId]: now.toISOString() })
    .filter(([, appliedAt]) => appliedAt >= cutoff)
    .sort(([idA, atA], [idB, atB]) => (atA === atB ? (idA < idB ? 1 : -1) : atA < atB ? 1 : -1))
    .slice(0, MAX_SEEN_IDS);
  return Object.fromEntries(kept);
}
