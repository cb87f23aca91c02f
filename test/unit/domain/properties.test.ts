/**
 * The core of the design as properties (DESIGN.md, "Facts are merged, not overwritten"):
 * applying the same set of events in any order, any number of times, yields the same
 * contact and the same stage; and the verdict is always internally consistent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LEAD_EVENT_KINDS,
  type LeadEvent,
  type LeadEventKind,
  leadEventSchema,
} from '../../../lib/domain/events.ts';
import {
  ANSWER_SIGNALS,
  type ContactFacts,
  combineFacts,
  emptyFacts,
} from '../../../lib/domain/facts.ts';
import {
  evaluateQualification,
  type QualificationConfig,
  qualificationConfigSchema,
} from '../../../lib/domain/qualification.ts';
import { deriveStage, nextFlagChangeAt } from '../../../lib/domain/stage.ts';
import { applyLikeStore, factsOf } from './support.ts';

const NUM_RUNS = 500;
const BASE = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

// ---------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------

/** A company address most of the time, else a free-mail or a disposable one. */
const EMAILS = [
  'anna@schmidt-maschinenbau.de',
  'anna@schmidt-maschinenbau.de',
  'anna@schmidt-maschinenbau.de',
  'anna@gmail.com',
  'anna@mailinator.com',
];

/**
 * An event time on a coarse grid (every 12 hours over 20 days) so equal times are common,
 * written either in UTC or with a +02:00 offset (the schema normalizes both to UTC).
 */
const occurredAtArb = fc
  .tuple(fc.integer({ min: 0, max: 40 }), fc.boolean())
  .map(([slot, withOffset]) => {
    const instant = new Date(BASE + slot * 12 * HOUR);
    if (!withOffset) return instant.toISOString();
    const local = new Date(instant.getTime() + 2 * HOUR).toISOString().slice(0, 19);
    return `${local}+02:00`;
  });

const moneyArb = fc.record({
  amount: fc.constantFrom(0, 1_000_000, 4_999_999, 5_000_000, 5_434_783, 8_000_000, 8_000_000),
  currency: fc.constantFrom('EUR', 'EUR', 'eur', 'USD', 'CHF', 'GBP'),
});

const profileArb = fc.record(
  {
    name: fc.constantFrom('Anna', 'Anna Schmidt', 'A. Schmidt'),
    company: fc.constantFrom('Schmidt GmbH', 'Schmidt Maschinenbau GmbH'),
    jobTitle: fc.constantFrom('CEO', 'Einkauf'),
    industry: fc.constantFrom(
      'Maschinenbau',
      'Maschinenbau',
      'maschinenbau',
      'Automotive',
      'Glücksspiel',
      'Retail',
    ),
    employees: fc.constantFrom(0, 10, 49, 50, 120, 120, 5000),
    annualRevenue: moneyArb,
    country: fc.constantFrom('DE', 'DE', 'at', 'CH', 'US', 'FR'),
    city: fc.constantFrom('Stuttgart', 'Wien'),
    phone: fc.constantFrom('+49 711 123456', '0711 654321'),
  },
  { requiredKeys: [] },
);

const attributionArb = fc.record(
  {
    utmSource: fc.constantFrom('google', 'newsletter'),
    utmCampaign: fc.constantFrom('spring', 'fair-2026'),
    referrer: fc.constantFrom('https://www.google.com/', 'https://example.org/'),
  },
  { requiredKeys: [] },
);

const consentArb = fc.record(
  {
    text: fc.constantFrom('Ja, kontaktieren Sie mich.', 'Newsletter abonnieren'),
    version: fc.constantFrom('v1', 'v2'),
    doubleOptInConfirmed: fc.boolean(),
  },
  { requiredKeys: [] },
);

const messageIdArb = fc.constantFrom('<m1@mail.example.com>', '<m2@mail.example.com>');

/** The kind-specific fields of each event kind, at random. */
const EXTRAS: Record<LeadEventKind, fc.Arbitrary<Record<string, unknown>>> = {
  form_submitted: fc.record(
    {
      formId: fc.constantFrom('contact', 'demo'),
      profile: profileArb,
      consent: consentArb,
      attribution: attributionArb,
    },
    { requiredKeys: ['formId'] },
  ),
  contact_imported: fc.record({ profile: profileArb }, { requiredKeys: [] }),
  profile_updated: fc.record({ profile: profileArb }),
  email_replied: fc.record(
    {
      matchMethod: fc.constantFrom('reply_token', 'in_reply_to', 'references', 'sender'),
      excerpt: fc.constantFrom('Danke, gern!', 'Bitte rufen Sie mich an.'),
    },
    { requiredKeys: ['matchMethod'] },
  ),
  email_delivered: fc.record({ messageId: messageIdArb }, { requiredKeys: [] }),
  email_opened: fc.record({ messageId: messageIdArb }, { requiredKeys: [] }),
  email_clicked: fc.record(
    { messageId: messageIdArb, url: fc.constantFrom('https://example.com/a') },
    { requiredKeys: [] },
  ),
  email_bounced: fc.record(
    { messageId: messageIdArb, bounceType: fc.constantFrom('hard', 'soft') },
    { requiredKeys: ['bounceType'] },
  ),
  email_complained: fc.record({ messageId: messageIdArb }, { requiredKeys: [] }),
  unsubscribed: fc.record({ messageId: messageIdArb }, { requiredKeys: [] }),
  resubscribed: fc.constant({}),
  call_logged: fc.record({
    direction: fc.constantFrom('inbound', 'outbound'),
    reached: fc.boolean(),
  }),
  meeting_held: fc.constant({}),
  mail_answered: fc.constant({}),
  site_visited: fc.record(
    { url: fc.constantFrom('https://example.com/preise'), attribution: attributionArb },
    { requiredKeys: [] },
  ),
  quote_requested: fc.constant({}),
  budget_confirmed: fc.record({ budget: moneyArb }, { requiredKeys: [] }),
  decision_maker_identified: fc.record({ isDecisionMaker: fc.boolean() }, { requiredKeys: [] }),
  consent_given: fc.record({ consent: consentArb }, { requiredKeys: [] }),
  consent_withdrawn: fc.constant({}),
};

/** One raw event of one of `kinds` for `email` (the id is assigned by the list). */
function eventArb(email: string, kinds: readonly LeadEventKind[]) {
  return fc
    .constantFrom(...kinds)
    .chain((kind) =>
      fc.record({
        kind: fc.constant(kind),
        extras: EXTRAS[kind],
        occurredAt: occurredAtArb,
        source: fc.constantFrom('test', 'postmark', 'api', 'form:contact'),
        emailCase: fc.boolean(),
        id: fc.integer({ min: 0, max: 1_000_000 }),
      }),
    )
    .map(({ kind, extras, occurredAt, source, emailCase, id }) =>
      leadEventSchema.parse({
        ...extras,
        kind,
        id: `evt_${id}`,
        occurredAt,
        source,
        // Providers report the address in any case; the schema normalizes it.
        email: emailCase ? email.toUpperCase() : email,
      }),
    );
}

/** A list of events of one contact with distinct ids. */
/**
 * Every kind, with profile events and outbound touches weighted up so that qualification
 * gets decided and the cadence ceiling gets reached in a fair share of runs.
 */
const WEIGHTED_KINDS: readonly LeadEventKind[] = [
  ...LEAD_EVENT_KINDS,
  'form_submitted',
  'profile_updated',
  'profile_updated',
  'email_delivered',
  'email_delivered',
  'email_delivered',
  'call_logged',
];

function eventsArb(kinds: readonly LeadEventKind[] = WEIGHTED_KINDS, maxLength = 25) {
  return fc.constantFrom(...EMAILS).chain((email) =>
    fc.record({
      email: fc.constant(email),
      events: fc.uniqueArray(eventArb(email, kinds), {
        selector: (item) => item.id,
        maxLength,
      }),
    }),
  );
}

const INDUSTRIES = ['Maschinenbau', 'Automotive', 'Glücksspiel', 'Retail'] as const;

/** A qualification config with any combination of criteria, through the schema. */
const randomConfigArb: fc.Arbitrary<QualificationConfig> = fc
  .record(
    {
      // Per industry: allowed, excluded or neither (never both, which the schema refuses).
      industryRoles: fc.array(fc.constantFrom('allowed', 'excluded', 'none'), {
        minLength: INDUSTRIES.length,
        maxLength: INDUSTRIES.length,
      }),
      useAllowed: fc.boolean(),
      minEmployees: fc.constantFrom(0, 50, 100),
      minAnnualRevenue: fc.record({
        amount: fc.constantFrom(0, 5_000_000),
        currency: fc.constantFrom('EUR', 'USD'),
      }),
      exchangeRates: fc.record(
        { USD: fc.constant(0.92), CHF: fc.constant(1.05) },
        {
          requiredKeys: [],
        },
      ),
      // An empty list is refused by the schema (it would serve nobody).
      countries: fc.subarray(['DE', 'at', 'CH'], { minLength: 1 }),
      freeMail: fc.constantFrom('allow', 'soft', 'hard'),
      disposableEmail: fc.constantFrom('allow', 'soft', 'hard'),
      hardCriteria: fc.subarray(['industry', 'employees', 'annualRevenue', 'country']),
      prospectRequiresQualification: fc.boolean(),
      salesReady: fc.record(
        {
          anyOf: fc.constantFrom(
            [['quote_requested'], ['budget_confirmed', 'decision_maker_identified']],
            [['quote_requested', 'budget_confirmed']],
            [['decision_maker_identified']],
          ),
          minSiteVisits: fc.constantFrom(0, 1, 3),
        },
        { requiredKeys: [] },
      ),
      staleAfterDays: fc.constantFrom(1, 7, 180),
      cadence: fc.record(
        { maxTouches: fc.constantFrom(1, 2, 6), windowDays: fc.constantFrom(1, 7, 30) },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  )
  .map(({ industryRoles, useAllowed, ...rest }) => {
    const input: Record<string, unknown> = { ...rest };
    if (industryRoles !== undefined) {
      const pick = (role: string) => INDUSTRIES.filter((_, index) => industryRoles[index] === role);
      input.industries = {
        excluded: pick('excluded'),
        ...(useAllowed && pick('allowed').length > 0 ? { allowed: pick('allowed') } : {}),
      };
    }
    return qualificationConfigSchema.parse(input);
  });

/** Sometimes the default (unconfigured) config or a one-criterion one, mostly a random one. */
const configArb: fc.Arbitrary<QualificationConfig> = fc.oneof(
  { arbitrary: fc.constant(qualificationConfigSchema.parse({})), weight: 1 },
  // One criterion only, so that a fair share of contacts is qualified.
  { arbitrary: fc.constant(qualificationConfigSchema.parse({ minEmployees: 50 })), weight: 1 },
  { arbitrary: randomConfigArb, weight: 4 },
);

/** A `now` from before the first event up to well after the last one. */
const nowArb = fc
  .oneof(
    // Mostly during or just after the events, where the cadence window still sees them...
    { arbitrary: fc.integer({ min: 0, max: 30 * 24 }), weight: 3 },
    // ...sometimes long after (stale) or before them.
    { arbitrary: fc.integer({ min: -48, max: 400 * 24 }), weight: 1 },
  )
  .map((hours) => new Date(BASE + hours * HOUR));

/** A list of events together with a permutation of it. */
const permutedArb = eventsArb().chain(({ email, events }) =>
  fc.record({
    email: fc.constant(email),
    events: fc.constant(events),
    permuted: fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
  }),
);

const options = { numRuns: NUM_RUNS };

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

describe('the arbitraries', () => {
  it('cover every event kind', () => {
    expect(Object.keys(EXTRAS).sort()).toEqual([...LEAD_EVENT_KINDS].sort());
    const seen = new Set<string>();
    fc.assert(
      fc.property(eventsArb(), ({ events }) => {
        for (const item of events) seen.add(item.kind);
      }),
      { numRuns: 100, seed: 1 },
    );
    expect([...seen].sort()).toEqual([...LEAD_EVENT_KINDS].sort());
  });
});

describe('(a) order does not matter', () => {
  it('any permutation of the events gives the same facts and the same verdict', () => {
    fc.assert(
      fc.property(permutedArb, configArb, nowArb, ({ email, events, permuted }, config, now) => {
        const facts = factsOf(events, email);
        const permutedFacts = factsOf(permuted, email);
        expect(permutedFacts).toEqual(facts);
        expect(deriveStage(permutedFacts, config, now)).toEqual(deriveStage(facts, config, now));
      }),
      options,
    );
  });
});

describe('(b) duplicates and partial merges change nothing', () => {
  it('redelivered events, dropped by id as the store does, give the same facts and verdict', () => {
    const withDuplicates = eventsArb().chain(({ email, events }) =>
      fc.record({
        email: fc.constant(email),
        events: fc.constant(events),
        delivered: fc
          .array(fc.nat({ max: Math.max(0, events.length - 1) }), { maxLength: 15 })
          .chain((indices) => {
            // A redelivery is a fresh copy of the same event (same id).
            const copies =
              events.length === 0 ? [] : indices.map((i) => structuredClone(events[i]));
            const all = [...events, ...copies].filter((item) => item !== undefined);
            return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
          }),
      }),
    );
    fc.assert(
      fc.property(
        withDuplicates,
        configArb,
        nowArb,
        ({ email, events, delivered }, config, now) => {
          const once = factsOf(events, email);
          const { facts, seen } = applyLikeStore(delivered, email, now);
          expect(facts).toEqual(once);
          expect(Object.keys(seen).sort()).toEqual(events.map((item) => item.id).sort());
          expect(deriveStage(facts, config, now)).toEqual(deriveStage(once, config, now));
        },
      ),
      options,
    );
  });

  it('fold(A ++ B) equals combineFacts(fold(A), fold(B)), and combineFacts commutes', () => {
    const split = permutedArb.chain(({ email, permuted }) =>
      fc.record({
        email: fc.constant(email),
        events: fc.constant(permuted),
        at: fc.integer({ min: 0, max: permuted.length }),
      }),
    );
    fc.assert(
      fc.property(split, ({ email, events, at }) => {
        const a = factsOf(events.slice(0, at), email);
        const b = factsOf(events.slice(at), email);
        const whole = factsOf(events, email);
        expect(combineFacts(a, b)).toEqual(whole);
        expect(combineFacts(b, a)).toEqual(whole);
      }),
      options,
    );
  });

  it('combineFacts is associative, and the facts of no events are its identity', () => {
    const threeWay = permutedArb.chain(({ email, permuted }) =>
      fc.record({
        email: fc.constant(email),
        events: fc.constant(permuted),
        cuts: fc
          .tuple(
            fc.integer({ min: 0, max: permuted.length }),
            fc.integer({ min: 0, max: permuted.length }),
          )
          .map(([x, y]) => [Math.min(x, y), Math.max(x, y)] as const),
      }),
    );
    fc.assert(
      fc.property(threeWay, ({ email, events, cuts: [i, j] }) => {
        const a = factsOf(events.slice(0, i), email);
        const b = factsOf(events.slice(i, j), email);
        const c = factsOf(events.slice(j), email);
        expect(combineFacts(combineFacts(a, b), c)).toEqual(combineFacts(a, combineFacts(b, c)));
        expect(combineFacts(a, emptyFacts(email))).toEqual(a);
        expect(combineFacts(emptyFacts(email), a)).toEqual(a);
      }),
      options,
    );
  });
});

describe('(c) the verdict is internally consistent', () => {
  const verdictArb = fc.record({ input: eventsArb(), config: configArb, now: nowArb });
  const answered = (facts: ContactFacts) =>
    ANSWER_SIGNALS.some((signal) => (facts.counts[signal] ?? 0) > 0);

  it('prospect and sales_ready always rest on at least one answer signal', () => {
    fc.assert(
      fc.property(verdictArb, ({ input, config, now }) => {
        const facts = factsOf(input.events, input.email);
        const verdict = deriveStage(facts, config, now);
        if (verdict.stage === 'prospect' || verdict.stage === 'sales_ready') {
          expect(answered(facts)).toBe(true);
          expect(verdict.reasons.map((r) => r.code)).toContain('two_way_communication');
        }
      }),
      options,
    );
  });

  it('disqualified always names a failed hard criterion, and only then', () => {
    fc.assert(
      fc.property(verdictArb, ({ input, config, now }) => {
        const facts = factsOf(input.events, input.email);
        const verdict = deriveStage(facts, config, now);
        const failedHard = evaluateQualification(facts, config)
          .criteria.filter((c) => c.result === 'failed' && c.hard)
          .map((c) => c.code);
        expect(verdict.stage === 'disqualified').toBe(failedHard.length > 0);
        expect(verdict.stage === 'disqualified').toBe(verdict.qualification === 'failed');
        if (verdict.stage === 'disqualified') {
          expect(failedHard).toContain(verdict.reasons[0]?.code);
        }
      }),
      options,
    );
  });

  it('qualified only when every configured criterion is met', () => {
    fc.assert(
      fc.property(verdictArb, ({ input, config, now }) => {
        const verdict = deriveStage(factsOf(input.events, input.email), config, now);
        if (verdict.stage === 'qualified') {
          expect(verdict.qualification).toBe('met');
          expect(verdict.reasons[0]?.code).toBe('qualification_met');
        }
      }),
      options,
    );
  });

  // docs/stages.md: `missing` is "the data that would decide qualification". A contact that
  // already failed a hard criterion is decided; nothing missing would change that.
  it('missing is non-empty exactly when the qualification is unknown', () => {
    fc.assert(
      fc.property(verdictArb, ({ input, config, now }) => {
        const verdict = deriveStage(factsOf(input.events, input.email), config, now);
        expect(verdict.missing.length > 0).toBe(verdict.qualification === 'unknown');
      }),
      options,
    );
  });

  it('every reason has a code and a sentence, and each flag has its reason', () => {
    fc.assert(
      fc.property(verdictArb, ({ input, config, now }) => {
        const verdict = deriveStage(factsOf(input.events, input.email), config, now);
        expect(verdict.reasons.length).toBeGreaterThan(0);
        for (const reason of verdict.reasons) {
          expect(reason.code).toMatch(/^[a-z][a-z_]*$/);
          expect(reason.message.trim().length).toBeGreaterThan(0);
        }
        const reasonCodes = verdict.reasons.map((r) => r.code);
        expect(reasonCodes.some((code) => code.startsWith('not_contactable_'))).toBe(
          !verdict.flags.contactable,
        );
        expect(reasonCodes.includes('stale')).toBe(verdict.flags.stale);
        expect(reasonCodes.includes('cadence_exceeded')).toBe(verdict.flags.cadenceExceeded);
      }),
      options,
    );
  });

  it('now decides the flags, never the stage', () => {
    fc.assert(
      fc.property(verdictArb, nowArb, ({ input, config, now }, otherNow) => {
        const facts = factsOf(input.events, input.email);
        const one = deriveStage(facts, config, now);
        const other = deriveStage(facts, config, otherNow);
        expect(other.stage).toBe(one.stage);
        expect(other.qualification).toBe(one.qualification);
        expect(other.missing).toEqual(one.missing);
      }),
      options,
    );
  });
});

describe('(d) engagement is not an answer', () => {
  it('opens, clicks, deliveries, visits and bounces alone never make a prospect', () => {
    const engagementOnly = eventsArb([
      'email_opened',
      'email_clicked',
      'email_delivered',
      'site_visited',
      'email_bounced',
    ]);
    fc.assert(
      fc.property(engagementOnly, configArb, nowArb, ({ email, events }, config, now) => {
        const verdict = deriveStage(factsOf(events, email), config, now);
        expect(['prospect', 'sales_ready']).not.toContain(verdict.stage);
        expect(verdict.reasons.map((r) => r.code)).not.toContain('two_way_communication');
      }),
      options,
    );
  });

  it('no list of events without an answer makes a prospect', () => {
    const nonAnswers = LEAD_EVENT_KINDS.filter(
      (kind) => !['email_replied', 'meeting_held', 'mail_answered', 'call_logged'].includes(kind),
    );
    const withUnreachedCalls = eventsArb(nonAnswers).chain(({ email, events }) =>
      fc.record({
        email: fc.constant(email),
        events: fc.array(occurredAtArb, { maxLength: 3 }).map((times) => [
          ...events,
          ...times.map((occurredAt, index) =>
            leadEventSchema.parse({
              kind: 'call_logged',
              id: `call_${index}`,
              occurredAt,
              email,
              source: 'api',
              direction: 'outbound',
              reached: false,
            }),
          ),
        ]),
      }),
    );
    fc.assert(
      fc.property(withUnreachedCalls, configArb, nowArb, ({ email, events }, config, now) => {
        const verdict = deriveStage(factsOf(events as LeadEvent[], email), config, now);
        expect(['prospect', 'sales_ready']).not.toContain(verdict.stage);
      }),
      options,
    );
  });
});

describe('(d) nextFlagChangeAt says when time next moves a flag', () => {
  const timeFlags = (facts: ContactFacts, config: QualificationConfig, at: number) => {
    const { stale, cadenceExceeded } = deriveStage(facts, config, new Date(at)).flags;
    return { stale, cadenceExceeded };
  };

  it('nothing moves before it, a flag moves at it, and nothing ever moves when it is undefined', () => {
    fc.assert(
      fc.property(eventsArb(), configArb, nowArb, ({ email, events }, config, now) => {
        const facts = factsOf(events, email);
        const flags = deriveStage(facts, config, now).flags;
        const due = nextFlagChangeAt(facts, config, flags);
        const current = timeFlags(facts, config, now.getTime());
        if (due === undefined) {
          // Stale already (or never active) and within the ceiling: time changes neither.
          expect(timeFlags(facts, config, now.getTime() + 10 * 365 * 86_400_000)).toEqual(current);
          return;
        }
        const dueAt = Date.parse(due);
        expect(dueAt).toBeGreaterThan(now.getTime());
        expect(timeFlags(facts, config, dueAt - 1)).toEqual(current);
        expect(timeFlags(facts, config, dueAt)).not.toEqual(current);
      }),
      options,
    );
  });
});
