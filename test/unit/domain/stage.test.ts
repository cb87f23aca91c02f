import { describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../../lib/config/app-config.ts';
import { crmMappingSchema, crmValuesFor, defaultCrmMapping } from '../../../lib/domain/crm.ts';
import type { LeadEvent } from '../../../lib/domain/events.ts';
import { MAX_KEPT_TOUCHES } from '../../../lib/domain/facts.ts';
import { qualificationConfigSchema } from '../../../lib/domain/qualification.ts';
import {
  deriveStage,
  nextFlagChangeAt,
  STAGES,
  type Stage,
  type StageDirection,
  type StageVerdict,
  stageDirection,
} from '../../../lib/domain/stage.ts';
import {
  codes,
  config,
  DOCS_EXAMPLE_CONFIG,
  day,
  event,
  expectExplained,
  factsOf,
  NOW,
  QUALIFIED_PROFILE,
} from './support.ts';

const UNCONFIGURED = config();
const form = (profile: Record<string, unknown> = {}) =>
  event('form_submitted', day(0), { profile });

function verdictOf(
  events: LeadEvent[],
  qualification = UNCONFIGURED,
  now: Date = NOW,
): StageVerdict {
  const verdict = deriveStage(factsOf(events), qualification, now);
  expectExplained(verdict);
  return verdict;
}

describe('contactability', () => {
  const replied = (n: number) => event('email_replied', day(n), { matchMethod: 'reply_token' });

  it('a fresh contact is contactable', () => {
    const verdict = verdictOf([form()]);
    expect(verdict.flags.contactable).toBe(true);
    expect(codes(verdict).some((code) => code.startsWith('not_contactable_'))).toBe(false);
  });

  it('a hard bounce makes the contact not contactable, without changing the stage', () => {
    const verdict = verdictOf([
      form(),
      replied(1),
      event('email_bounced', day(2), { bounceType: 'hard' }),
    ]);
    expect(verdict.stage).toBe('prospect');
    expect(verdict.flags.contactable).toBe(false);
    expect(codes(verdict)).toContain('not_contactable_hard_bounced');
  });

  it('a soft bounce does not', () => {
    const verdict = verdictOf([form(), event('email_bounced', day(2), { bounceType: 'soft' })]);
    expect(verdict.flags.contactable).toBe(true);
  });

  it.each([
    ['a later delivery', () => event('email_delivered', day(3))],
    ['a later reply', () => replied(3)],
  ])('a hard bounce is lifted by %s', (_label, later) => {
    const verdict = verdictOf([
      form(),
      event('email_bounced', day(2), { bounceType: 'hard' }),
      later(),
    ]);
    expect(verdict.flags.contactable).toBe(true);
    expect(codes(verdict)).not.toContain('not_contactable_hard_bounced');
  });

  it('a hard bounce is not lifted by an earlier delivery or reply, nor by consent', () => {
    const verdict = verdictOf([
      form(),
      event('email_delivered', day(1)),
      replied(1),
      event('email_bounced', day(2), { bounceType: 'hard' }),
      event('consent_given', day(3)),
      event('resubscribed', day(3)),
    ]);
    expect(verdict.flags.contactable).toBe(false);
    expect(codes(verdict)).toContain('not_contactable_hard_bounced');
  });

  it('a bounce after the lifting delivery blocks again', () => {
    const verdict = verdictOf([
      form(),
      event('email_bounced', day(2), { bounceType: 'hard' }),
      event('email_delivered', day(3)),
      event('email_bounced', day(4), { bounceType: 'hard' }),
    ]);
    expect(verdict.flags.contactable).toBe(false);
  });

  it.each([
    ['unsubscribed', 'not_contactable_unsubscribed'],
    ['email_complained', 'not_contactable_complained'],
    ['consent_withdrawn', 'not_contactable_consent_withdrawn'],
  ] as const)('%s blocks (%s)', (kind, code) => {
    const verdict = verdictOf([form(), event(kind, day(2))]);
    expect(verdict.flags.contactable).toBe(false);
    expect(codes(verdict)).toContain(code);
  });

  it.each([
    ['unsubscribed', 'consent_given'],
    ['unsubscribed', 'resubscribed'],
    ['email_complained', 'consent_given'],
    ['email_complained', 'resubscribed'],
    ['consent_withdrawn', 'consent_given'],
    ['consent_withdrawn', 'resubscribed'],
  ] as const)('%s is lifted by a later %s', (blocker, restore) => {
    const verdict = verdictOf([form(), event(blocker, day(2)), event(restore, day(3))]);
    expect(verdict.flags.contactable).toBe(true);
    expect(codes(verdict).some((code) => code.startsWith('not_contactable_'))).toBe(false);
  });

  it.each([
    ['unsubscribed', 'consent_given'],
    ['unsubscribed', 'resubscribed'],
    ['email_complained', 'consent_given'],
    ['consent_withdrawn', 'consent_given'],
  ] as const)('%s is not lifted by an earlier %s', (blocker, restore) => {
    const verdict = verdictOf([form(), event(restore, day(1)), event(blocker, day(2))]);
    expect(verdict.flags.contactable).toBe(false);
  });

  it('a form submitted with consent after an unsubscribe lifts it; one without consent does not', () => {
    const withConsent = verdictOf([
      form(),
      event('unsubscribed', day(2)),
      event('form_submitted', day(3), { consent: { text: 'Ja', version: 'v2' } }),
    ]);
    expect(withConsent.flags.contactable).toBe(true);
    const withoutConsent = verdictOf([
      form(),
      event('unsubscribed', day(2)),
      event('form_submitted', day(3)),
    ]);
    expect(withoutConsent.flags.contactable).toBe(false);
  });

  it('an unsubscribe is not lifted by a later delivery or reply', () => {
    const verdict = verdictOf([
      form(),
      event('unsubscribed', day(2)),
      event('email_delivered', day(3)),
      replied(4),
    ]);
    expect(verdict.flags.contactable).toBe(false);
    expect(codes(verdict)).toContain('not_contactable_unsubscribed');
  });

  it('a block and a restore at the same instant: the block wins, in either order', () => {
    const block = event('unsubscribed', day(2));
    const restore = event('consent_given', day(2));
    expect(verdictOf([form(), block, restore]).flags.contactable).toBe(false);
    expect(verdictOf([form(), restore, block]).flags.contactable).toBe(false);
  });

  it('reports every block that holds', () => {
    const verdict = verdictOf([
      form(),
      event('email_bounced', day(1), { bounceType: 'hard' }),
      event('email_complained', day(2)),
      event('unsubscribed', day(3)),
    ]);
    expect(codes(verdict)).toEqual(
      expect.arrayContaining([
        'not_contactable_hard_bounced',
        'not_contactable_complained',
        'not_contactable_unsubscribed',
      ]),
    );
  });
});

describe('stale', () => {
  const staleIn30 = config({ staleAfterDays: 30 });

  it('is set after staleAfterDays without activity of the contact, with the date', () => {
    const verdict = verdictOf([form()], staleIn30, new Date(day(31)));
    expect(verdict.flags.stale).toBe(true);
    const reason = verdict.reasons.find((r) => r.code === 'stale');
    expect(reason?.message).toContain('2026-01-01');
    expect(reason?.message).toContain('30 days');
    expect(verdict.stage).toBe('lead');
  });

  it('is not set within staleAfterDays', () => {
    const verdict = verdictOf([form()], staleIn30, new Date(day(29)));
    expect(verdict.flags.stale).toBe(false);
    expect(codes(verdict)).not.toContain('stale');
  });

  it('defaults to 180 days', () => {
    expect(verdictOf([form()], UNCONFIGURED, new Date(day(179))).flags.stale).toBe(false);
    expect(verdictOf([form()], UNCONFIGURED, new Date(day(181))).flags.stale).toBe(true);
  });

  it('our own outbound touches do not keep a contact fresh', () => {
    const verdict = verdictOf(
      [
        form(),
        event('email_delivered', day(20)),
        event('call_logged', day(25), { direction: 'outbound', reached: false }),
      ],
      staleIn30,
      new Date(day(40)),
    );
    expect(verdict.flags.stale).toBe(true);
  });

  it.each([
    ['an open', () => event('email_opened', day(20))],
    ['a click', () => event('email_clicked', day(20))],
    ['a reply', () => event('email_replied', day(20), { matchMethod: 'sender' })],
    [
      'an answered outbound call',
      () => event('call_logged', day(20), { direction: 'outbound', reached: true }),
    ],
    ['a meeting', () => event('meeting_held', day(20))],
    ['an answered mailing', () => event('mail_answered', day(20))],
    ['a site visit', () => event('site_visited', day(20))],
    ['a quote request', () => event('quote_requested', day(20))],
    ['a confirmed budget', () => event('budget_confirmed', day(20))],
    ['a consent', () => event('consent_given', day(20))],
    ['a new form submission', () => event('form_submitted', day(20))],
  ])('%s is activity that keeps the contact fresh', (_label, activity) => {
    const verdict = verdictOf([form(), activity()], staleIn30, new Date(day(40)));
    expect(verdict.flags.stale).toBe(false);
  });

  it('a stale contact keeps its stage', () => {
    const events = [form(QUALIFIED_PROFILE)];
    const fresh = verdictOf(events, DOCS_EXAMPLE_CONFIG, new Date(day(1)));
    const stale = verdictOf(events, DOCS_EXAMPLE_CONFIG, new Date(day(400)));
    expect(stale.flags.stale).toBe(true);
    expect(stale.stage).toBe(fresh.stage);
    expect(stale.stage).toBe('qualified');
  });
});

describe('cadence', () => {
  const deliveries = (days: number[]) => days.map((n) => event('email_delivered', day(n)));
  const now = new Date(day(40));

  it('is exceeded by more than maxTouches outbound touches within the window', () => {
    const verdict = verdictOf(
      [form(), ...deliveries([20, 22, 24, 26, 28, 30, 32])],
      UNCONFIGURED,
      now,
    );
    expect(verdict.flags.cadenceExceeded).toBe(true);
    const reason = verdict.reasons.find((r) => r.code === 'cadence_exceeded');
    expect(reason?.message).toContain('7 outbound touches in 30 days');
    expect(reason?.message).toContain('ceiling of 6');
  });

  it('is not exceeded by exactly maxTouches', () => {
    const verdict = verdictOf([form(), ...deliveries([20, 22, 24, 26, 28, 30])], UNCONFIGURED, now);
    expect(verdict.flags.cadenceExceeded).toBe(false);
  });

  it('counts only touches within the window', () => {
    // day 5 is 35 days before `now`: outside the 30-day window.
    const verdict = verdictOf(
      [form(), ...deliveries([5, 22, 24, 26, 28, 30, 32])],
      UNCONFIGURED,
      now,
    );
    expect(verdict.flags.cadenceExceeded).toBe(false);
    // Seen at day 33, the window starts at day 3: all seven count.
    expect(
      verdictOf(
        [form(), ...deliveries([5, 22, 24, 26, 28, 30, 32])],
        UNCONFIGURED,
        new Date(day(33)),
      ).flags.cadenceExceeded,
    ).toBe(true);
  });

  it('counts outbound calls, reached or not, as touches', () => {
    const calls = [20, 22, 24].map((n, index) =>
      event('call_logged', day(n), { direction: 'outbound', reached: index % 2 === 0 }),
    );
    const verdict = verdictOf(
      [form(), ...calls, ...deliveries([26])],
      config({ cadence: { maxTouches: 3 } }),
      now,
    );
    expect(verdict.flags.cadenceExceeded).toBe(true);
  });

  it('does not count what the contact did: inbound calls, replies, opens, clicks, visits', () => {
    const theirs = [
      event('call_logged', day(20), { direction: 'inbound', reached: true }),
      event('call_logged', day(21), { direction: 'inbound', reached: true }),
      event('email_replied', day(22), { matchMethod: 'sender' }),
      event('email_opened', day(23)),
      event('email_clicked', day(24)),
      event('site_visited', day(25)),
      event('meeting_held', day(26)),
      event('mail_answered', day(27)),
    ];
    const verdict = verdictOf(
      [form(), ...theirs, ...deliveries([28])],
      config({ cadence: { maxTouches: 1 } }),
      now,
    );
    expect(verdict.flags.cadenceExceeded).toBe(false);
  });

  it('honours a configured window', () => {
    const weekly = config({ cadence: { maxTouches: 2, windowDays: 7 } });
    expect(
      verdictOf([form(), ...deliveries([34, 35, 39])], weekly, now).flags.cadenceExceeded,
    ).toBe(true);
    expect(
      verdictOf([form(), ...deliveries([30, 31, 39])], weekly, now).flags.cadenceExceeded,
    ).toBe(false);
  });

  // docs/stages.md: cadenceExceeded is "more than `cadence.maxTouches` outbound touches ...
  // in the last `cadence.windowDays` days". The facts keep only the newest MAX_KEPT_TOUCHES
  // (50) touch times, so a ceiling of 50 or more could never be seen exceeded: the config
  // must either refuse such a ceiling (naming it) or the ceiling must still work.
  it('every ceiling the config accepts can be seen exceeded by one touch more', () => {
    const accepted: number[] = [];
    for (const maxTouches of [1, 6, MAX_KEPT_TOUCHES - 1, MAX_KEPT_TOUCHES, 100]) {
      const parsed = qualificationConfigSchema.safeParse({ cadence: { maxTouches } });
      if (!parsed.success) {
        expect(parsed.error.issues.map((issue) => issue.path.join('.'))).toEqual([
          'cadence.maxTouches',
        ]);
        continue;
      }
      accepted.push(maxTouches);
      const touches = Array.from({ length: maxTouches + 1 }, (_, index) =>
        event('email_delivered', new Date(Date.parse(day(20)) + index * 600_000).toISOString()),
      );
      const verdict = verdictOf([form(), ...touches], parsed.data, now);
      expect(verdict.flags.cadenceExceeded, `maxTouches ${maxTouches}`).toBe(true);
      const exactly = verdictOf([form(), ...touches.slice(1)], parsed.data, now);
      expect(exactly.flags.cadenceExceeded, `maxTouches ${maxTouches}`).toBe(false);
    }
    expect(accepted).toEqual(expect.arrayContaining([1, 6]));
  });
});

describe('stageDirection', () => {
  it.each<[Stage | null, Stage, StageDirection]>([
    [null, 'lead', 'initial'],
    [null, 'disqualified', 'initial'],
    ['lead', 'lead', 'unchanged'],
    ['disqualified', 'disqualified', 'unchanged'],
    ['lead', 'qualified', 'forward'],
    ['lead', 'prospect', 'forward'],
    ['qualified', 'prospect', 'forward'],
    ['prospect', 'sales_ready', 'forward'],
    ['disqualified', 'lead', 'forward'],
    ['disqualified', 'qualified', 'forward'],
    ['qualified', 'lead', 'backward'],
    ['sales_ready', 'prospect', 'backward'],
    ['lead', 'disqualified', 'backward'],
    ['qualified', 'disqualified', 'backward'],
    ['sales_ready', 'disqualified', 'backward'],
  ])('%s -> %s is %s', (from, to, direction) => {
    expect(stageDirection(from, to)).toBe(direction);
  });

  it('moving to disqualified is backward from every other stage', () => {
    for (const from of STAGES.filter((stage) => stage !== 'disqualified')) {
      expect(stageDirection(from, 'disqualified')).toBe('backward');
    }
  });
});

describe('a correction moves a contact back', () => {
  const original = form(QUALIFIED_PROFILE);
  const correction = event('profile_updated', day(5), {
    profile: { annualRevenue: { amount: 1_000_000, currency: 'EUR' } },
  });

  it('a later revenue below the minimum moves qualified to disqualified, backward', () => {
    const before = verdictOf([original], DOCS_EXAMPLE_CONFIG);
    const after = verdictOf([original, correction], DOCS_EXAMPLE_CONFIG);
    expect(before.stage).toBe('qualified');
    expect(after.stage).toBe('disqualified');
    expect(codes(after)[0]).toBe('revenue_below_minimum');
    expect(stageDirection(before.stage, after.stage)).toBe('backward');
  });

  it('an older value arriving late does not undo a newer one', () => {
    const late = event('profile_updated', day(-10), {
      profile: { annualRevenue: { amount: 1_000_000, currency: 'EUR' } },
    });
    expect(verdictOf([original, late], DOCS_EXAMPLE_CONFIG).stage).toBe('qualified');
  });

  it('a prospect whose correction fails a hard criterion is disqualified and keeps the answer as a reason', () => {
    const answered = event('email_replied', day(2), { matchMethod: 'reply_token' });
    const before = verdictOf([original, answered], DOCS_EXAMPLE_CONFIG);
    const after = verdictOf([original, answered, correction], DOCS_EXAMPLE_CONFIG);
    expect(before.stage).toBe('prospect');
    expect(after.stage).toBe('disqualified');
    expect(codes(after)).toEqual(['revenue_below_minimum', 'two_way_communication']);
    expect(stageDirection(before.stage, after.stage)).toBe('backward');
  });

  it('a correction back above the minimum moves disqualified forward again', () => {
    const fixed = event('profile_updated', day(6), {
      profile: { annualRevenue: { amount: 9_000_000, currency: 'EUR' } },
    });
    const after = verdictOf([original, correction, fixed], DOCS_EXAMPLE_CONFIG);
    expect(after.stage).toBe('qualified');
    expect(stageDirection('disqualified', after.stage)).toBe('forward');
  });
});

describe('the docs/stages.md example, step by step', () => {
  it('qualified, then prospect on a reply, then sales-ready on a quote request, always forward', () => {
    const steps = [
      form(QUALIFIED_PROFILE),
      event('email_replied', day(1), { matchMethod: 'reply_token' }),
      event('quote_requested', day(2)),
    ];
    const stages = steps.map((_, index) =>
      verdictOf(steps.slice(0, index + 1), DOCS_EXAMPLE_CONFIG),
    );
    expect(stages.map((v) => v.stage)).toEqual(['qualified', 'prospect', 'sales_ready']);
    expect(stageDirection(null, 'qualified')).toBe('initial');
    expect(stageDirection('qualified', 'prospect')).toBe('forward');
    expect(stageDirection('prospect', 'sales_ready')).toBe('forward');
    expect(stages[0]?.reasons[0]?.message).toContain('The industry "Maschinenbau" is targeted');
    expect(stages[0]?.reasons[0]?.message).toContain('120 employees meets the minimum of 50');
    expect(stages[2]?.reasons[0]).toEqual({
      code: 'sales_ready',
      message: 'Sales-ready: a quote was requested.',
    });
  });

  it('with 20 employees the same lead is disqualified; without revenue it is a lead missing it', () => {
    const small = verdictOf([form({ ...QUALIFIED_PROFILE, employees: 20 })], DOCS_EXAMPLE_CONFIG);
    expect(small.stage).toBe('disqualified');
    expect(codes(small)).toEqual(['employees_below_minimum']);
    const { annualRevenue: _omitted, ...withoutRevenue } = QUALIFIED_PROFILE;
    const unknown = verdictOf([form(withoutRevenue)], DOCS_EXAMPLE_CONFIG);
    expect(unknown.stage).toBe('lead');
    expect(unknown.missing).toEqual(['annualRevenue']);
    expect(unknown.qualification).toBe('unknown');
  });

  // docs/stages.md: `missing` is "the data that would decide qualification"; DESIGN.md: a
  // lead "whose data is missing is not failed, it is unknown, and says which data would
  // decide it". A lead that already failed a hard criterion is decided: nothing is missing.
  it('a disqualified lead lists nothing as missing, although other data is unknown', () => {
    const verdict = verdictOf([form({ industry: 'Glücksspiel' })], DOCS_EXAMPLE_CONFIG);
    expect(verdict.stage).toBe('disqualified');
    expect(verdict.qualification).toBe('failed');
    expect(verdict.missing).toEqual([]);
  });
});

describe('sales readiness', () => {
  const answered = [form(), event('meeting_held', day(1))];

  it('explains what is still open when not sales-ready', () => {
    const verdict = verdictOf(answered);
    expect(verdict.stage).toBe('prospect');
    expect(verdict.reasons.map((r) => r.code).slice(0, 2)).toEqual([
      'two_way_communication',
      'not_sales_ready',
    ]);
    const open = verdict.reasons.find((r) => r.code === 'not_sales_ready')?.message ?? '';
    expect(open).toContain('a quote not requested');
    expect(open).toContain('the budget not confirmed');
    expect(open).toContain('the decision maker not reached');
  });

  it('a decision maker later found not to be the one takes sales-readiness back', () => {
    const verdict = verdictOf([
      ...answered,
      event('budget_confirmed', day(2)),
      event('decision_maker_identified', day(3)),
      event('decision_maker_identified', day(4), { isDecisionMaker: false }),
    ]);
    expect(verdict.stage).toBe('prospect');
    expect(codes(verdict)).toContain('not_sales_ready');
  });

  it('follows a configured rule (anyOf)', () => {
    const budgetOnly = config({ salesReady: { anyOf: [['budget_confirmed']] } });
    const verdict = verdictOf([...answered, event('budget_confirmed', day(2))], budgetOnly);
    expect(verdict.stage).toBe('sales_ready');
    expect(verdict.reasons[0]?.message).toBe('Sales-ready: the budget is confirmed.');
    const quoteOnly = verdictOf([...answered, event('quote_requested', day(2))], budgetOnly);
    expect(quoteOnly.stage).toBe('prospect');
  });

  it('a quote request without an answer does not make a prospect, let alone sales-ready', () => {
    const verdict = verdictOf([
      form(),
      event('quote_requested', day(1)),
      event('budget_confirmed', day(1)),
    ]);
    expect(verdict.stage).toBe('lead');
    expect(codes(verdict)).not.toContain('sales_ready');
  });

  it('names the missing site visits', () => {
    const verdict = verdictOf(
      [...answered, event('quote_requested', day(2)), event('site_visited', day(2))],
      config({ salesReady: { minSiteVisits: 3 } }),
    );
    expect(verdict.stage).toBe('prospect');
    expect(verdict.reasons.find((r) => r.code === 'not_sales_ready')?.message).toContain(
      '1 of 3 site visits',
    );
  });
  // DESIGN.md: the stage "always comes with the reasons that produced it ... so a salesperson
  // can see *why*". With a quote requested, the quote set of the default rule is complete; only
  // the visits are missing, so the reason must not send sales after a budget and a decision maker.
  it('when a signal set is complete and only visits are missing, names only the visits', () => {
    const verdict = verdictOf(
      [...answered, event('quote_requested', day(2)), event('site_visited', day(2))],
      config({ salesReady: { minSiteVisits: 3 } }),
    );
    const message = verdict.reasons.find((r) => r.code === 'not_sales_ready')?.message ?? '';
    expect(message).toContain('1 of 3 site visits');
    expect(message).not.toContain('budget');
    expect(message).not.toContain('decision maker');
  });
});

describe('crmValuesFor', () => {
  it.each<[Stage, string, string, string]>([
    ['lead', 'lead', 'NEW', 'Open - Not Contacted'],
    ['qualified', 'marketingqualifiedlead', 'OPEN', 'Open - Not Contacted'],
    ['prospect', 'salesqualifiedlead', 'CONNECTED', 'Working - Contacted'],
    ['sales_ready', 'opportunity', 'OPEN_DEAL', 'Working - Contacted'],
    ['disqualified', 'other', 'UNQUALIFIED', 'Closed - Not Converted'],
  ])('maps %s by default as docs/stages.md says', (stage, lifecycle, leadStatus, salesforce) => {
    expect(crmValuesFor(stage, defaultCrmMapping)).toEqual({
      hubspot: { lifecycleStage: lifecycle, leadStatus },
      salesforce: { leadStatus: salesforce },
    });
  });

  it('an override replaces only the values it names', () => {
    const mapping = crmMappingSchema.parse({
      hubspotLifecycleStage: { prospect: 'custom_prospect' },
      salesforceLeadStatus: { disqualified: 'Unqualified' },
    });
    expect(crmValuesFor('prospect', mapping)).toEqual({
      hubspot: { lifecycleStage: 'custom_prospect', leadStatus: 'CONNECTED' },
      salesforce: { leadStatus: 'Working - Contacted' },
    });
    expect(crmValuesFor('disqualified', mapping).salesforce.leadStatus).toBe('Unqualified');
    expect(crmValuesFor('lead', mapping)).toEqual(crmValuesFor('lead', defaultCrmMapping));
  });

  it('overrides come from the crm key of the config file', () => {
    const app = parseAppConfig({ crm: { hubspotLeadStatus: { sales_ready: 'IN_PROGRESS' } } }, 'x');
    expect(crmValuesFor('sales_ready', app.crm).hubspot.leadStatus).toBe('IN_PROGRESS');
    expect(crmValuesFor('sales_ready', app.crm).hubspot.lifecycleStage).toBe('opportunity');
  });

  it('refuses an unknown CRM, an unknown stage and an empty value, naming the path', () => {
    expect(() => parseAppConfig({ crm: { pipedrive: {} } }, 'x')).toThrow(/crm: .*"pipedrive"/);
    expect(() => parseAppConfig({ crm: { hubspotLeadStatus: { customer: 'X' } } }, 'x')).toThrow(
      /crm\.hubspotLeadStatus: .*"customer"/,
    );
    expect(() => parseAppConfig({ crm: { hubspotLeadStatus: { lead: '' } } }, 'x')).toThrow(
      /crm\.hubspotLeadStatus\.lead:/,
    );
  });
});

describe('nextFlagChangeAt', () => {
  it('is just after the last own activity plus staleAfterDays, for a contact not stale yet', () => {
    // The open of 4 January 2026 is the last own activity; 180 days on is 3 July.
    const facts = factsOf([form(), event('email_opened', day(3))]);
    const flags = deriveStage(facts, UNCONFIGURED, NOW).flags;
    expect(flags.stale).toBe(false);
    expect(nextFlagChangeAt(facts, UNCONFIGURED, flags)).toBe('2026-07-03T10:00:00.001Z');
  });

  it('is undefined once stale and within the ceiling: time changes nothing more', () => {
    const facts = factsOf([form()]);
    const later = new Date('2027-01-01T00:00:00.000Z');
    const flags = deriveStage(facts, UNCONFIGURED, later).flags;
    expect(flags).toMatchObject({ stale: true, cadenceExceeded: false });
    expect(nextFlagChangeAt(facts, UNCONFIGURED, flags)).toBeUndefined();
  });

  it('is undefined for activity dated at the end of year 9999 (a placeholder), which an index could not sort', () => {
    const facts = factsOf([event('form_submitted', '9999-12-31T00:00:00.000Z', { profile: {} })]);
    const flags = deriveStage(facts, UNCONFIGURED, NOW).flags;
    expect(flags.stale).toBe(false);
    expect(nextFlagChangeAt(facts, UNCONFIGURED, flags)).toBeUndefined();
  });

  it('a stale limit or cadence window over 100 years is refused by the config', () => {
    expect(() => config({ staleAfterDays: 36_501 })).toThrow();
    expect(() => config({ cadence: { maxTouches: 6, windowDays: 36_501 } })).toThrow();
    expect(config({ staleAfterDays: 36_500 }).staleAfterDays).toBe(36_500);
  });
});
