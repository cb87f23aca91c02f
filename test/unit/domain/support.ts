/**
 * Helpers shared by the domain tests: events built through `leadEventSchema` (so they are
 * normalized exactly like production events), facts folded from events, configs parsed
 * through `qualificationConfigSchema` (so defaults apply).
 */
import { expect } from 'vitest';
import {
  type LeadEvent,
  type LeadEventInput,
  type LeadEventKind,
  leadEventSchema,
} from '../../../lib/domain/events.ts';
import {
  type ContactFacts,
  emptyFacts,
  hasSeen,
  mergeFacts,
  rememberEvent,
  type SeenIds,
} from '../../../lib/domain/facts.ts';
import {
  type QualificationConfig,
  qualificationConfigSchema,
} from '../../../lib/domain/qualification.ts';
import type { StageVerdict } from '../../../lib/domain/stage.ts';

export const EMAIL = 'anna@schmidt-maschinenbau.de';

/** Day `n` after 2026-01-01 (UTC) at `hour`, as an ISO instant. */
export function day(n: number, hour = 10): string {
  return new Date(Date.UTC(2026, 0, 1 + n, hour)).toISOString();
}

/** A `now` well after every fixture event, but within the default 180-day stale window. */
export const NOW = new Date(day(40));

let sequence = 0;

/**
 * The fields of one event kind other than the common ones (`id`, `occurredAt`, `email`,
 * `source`); all optional here, the schema refuses what is missing.
 */
export type EventExtras<K extends LeadEventKind> = Partial<
  Omit<Extract<LeadEventInput, { kind: K }>, 'kind' | 'id' | 'occurredAt' | 'email' | 'source'>
>;

/**
 * Builds one event of `kind` through `leadEventSchema.parse`. `extras` may override the
 * common fields too (`id`, `email`, `source`).
 */
export function event<K extends LeadEventKind>(
  kind: K,
  occurredAt: string,
  extras?: EventExtras<K> & { id?: string; email?: string; source?: string },
): LeadEvent {
  sequence += 1;
  const defaults: Record<string, unknown> = {
    id: `evt_${String(sequence).padStart(5, '0')}`,
    email: EMAIL,
    source: 'test',
  };
  if (kind === 'form_submitted') defaults.formId = 'contact';
  return leadEventSchema.parse({ ...defaults, kind, occurredAt, ...extras });
}

/**
 * The facts of one contact after applying `events` in order (each once), starting, like the
 * classify worker, from the empty facts of the (normalized) email of the first event.
 */
export function factsOf(
  events: readonly LeadEvent[],
  email = events[0]?.email ?? EMAIL,
): ContactFacts {
  return events.reduce(mergeFacts, emptyFacts(email));
}

/**
 * Applies events the way the classify worker does: an event whose id was already applied
 * (`hasSeen`) is skipped, every applied id is remembered (`rememberEvent`).
 */
export function applyLikeStore(
  events: readonly LeadEvent[],
  email: string,
  now: Date,
): { facts: ContactFacts; seen: SeenIds } {
  let facts = emptyFacts(email);
  let seen: SeenIds = {};
  for (const item of events) {
    if (hasSeen(seen, item.id)) continue;
    facts = mergeFacts(facts, item);
    seen = rememberEvent(seen, item.id, now);
  }
  return { facts, seen };
}

/** A qualification config through the schema, so every default applies. */
export function config(input: Record<string, unknown> = {}): QualificationConfig {
  return qualificationConfigSchema.parse(input);
}

/** The example config of docs/stages.md. */
export const DOCS_EXAMPLE_CONFIG = config({
  industries: { allowed: ['Maschinenbau', 'Automotive'], excluded: ['Glücksspiel'] },
  minEmployees: 50,
  minAnnualRevenue: { amount: 5_000_000, currency: 'EUR' },
  exchangeRates: { USD: 0.92, CHF: 1.05 },
  countries: ['DE', 'AT', 'CH'],
});

/** The profile of the docs example lead who meets every criterion of DOCS_EXAMPLE_CONFIG. */
export const QUALIFIED_PROFILE = {
  name: 'Anna Schmidt',
  company: 'Schmidt Maschinenbau GmbH',
  industry: 'Maschinenbau',
  employees: 120,
  annualRevenue: { amount: 8_000_000, currency: 'EUR' },
  country: 'DE',
};

export function codes(verdict: StageVerdict): string[] {
  return verdict.reasons.map((reason) => reason.code);
}

/** Every reason has a stable code and a non-empty human sentence. */
export function expectExplained(verdict: StageVerdict): void {
  expect(verdict.reasons.length).toBeGreaterThan(0);
  for (const reason of verdict.reasons) {
    expect(reason.code).toMatch(/^[a-z][a-z_]*$/);
    expect(reason.message.trim()).not.toBe('');
  }
}
