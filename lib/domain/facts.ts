import type { LeadEvent, LeadEventKind, Profile } from './events.ts';

/** A profile value with the event time that set it, so later events win regardless of arrival order. */
export interface Stamped<T> {
  value: T;
  at: string;
  /** The id of the event that set it: breaks ties between events with the same time. */
  by: string;
}

/**
 * Everything known about one contact, accumulated from its events. Merging is
 * commutative and idempotent per event id, so duplicates and reordering change nothing.
 */
export interface ContactFacts {
  email: string;
  profile: { [K in keyof Profile]?: Stamped<NonNullable<Profile[K]>> };
  counts: Partial<Record<LeadEventKind, number>>;
  firstSeenAt: string;
  lastSeenAt: string;
}

/** The facts of a contact nobody has seen yet. */
export function emptyFacts(email: string, at: string): ContactFacts {
  return { email, profile: {}, counts: {}, firstSeenAt: at, lastSeenAt: at };
}

function laterWins<T>(current: Stamped<T> | undefined, next: Stamped<T>): Stamped<T> {
  if (current === undefined) return next;
  if (next.at > current.at) return next;
  if (next.at === current.at && next.by > current.by) return next;
  return current;
}

// ISO-8601 timestamps in UTC compare correctly as strings.
const earlierOf = (a: string, b: string) => (a < b ? a : b);
const laterOf = (a: string, b: string) => (a > b ? a : b);

/**
 * Merges one event into the facts. The caller guarantees the event was not applied before
 * (the store keeps the seen ids); everything here is order-independent.
 */
export function mergeFacts(facts: ContactFacts, event: LeadEvent): ContactFacts {
  const profile = { ...facts.profile };
  if (event.kind === 'form_submitted') {
    for (const [field, value] of Object.entries(event.profile) as [keyof Profile, string][]) {
      if (value === undefined || value === '') continue;
      profile[field] = laterWins(profile[field], { value, at: event.occurredAt, by: event.id });
    }
  }
  return {
    email: facts.email,
    profile,
    counts: { ...facts.counts, [event.kind]: (facts.counts[event.kind] ?? 0) + 1 },
    firstSeenAt: earlierOf(event.occurredAt, facts.firstSeenAt),
    lastSeenAt: laterOf(event.occurredAt, facts.lastSeenAt),
  };
}
