/**
 * One test per statement of the seed document (/work/shared/seed, German) that the domain
 * implements, with the sentence quoted. Where the seed is silent, DESIGN.md ("The domain")
 * and docs/stages.md are quoted instead. Every case asserts the stage, at least one reason
 * code, and that every reason carries a sentence.
 */
import { describe, expect, it } from 'vitest';
import type { LeadEvent } from '../../../lib/domain/events.ts';
import type { QualificationConfig } from '../../../lib/domain/qualification.ts';
import { deriveStage, type Stage, type StageFlags } from '../../../lib/domain/stage.ts';
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

interface SeedCase {
  /** English test name. */
  name: string;
  /** The German sentence (or DESIGN.md line) the case implements. */
  seed: string;
  events: () => LeadEvent[];
  config?: QualificationConfig;
  now?: Date;
  stage: Stage;
  /** Codes that must be among the reasons. */
  reasons: string[];
  /** Codes that must not be among the reasons. */
  notReasons?: string[];
  /** The first (most decisive) reason, when it matters. */
  firstReason?: string;
  missing?: string[];
  flags?: Partial<StageFlags>;
}

const UNCONFIGURED = config();
const form = (profile: Record<string, unknown> = {}) =>
  event('form_submitted', day(0), { profile, consent: { text: 'Ja, kontaktieren Sie mich.' } });

const SENTENCE = {
  lead: 'Zusammengefasst ist ein Lead also eine Person, die mindestens einige Basisdaten eingegeben hat und somit ein mögliches Interesse daran zeigt, von Ihnen zu kaufen.',
  basicData:
    'Tatsächlich haben Sie wohl keine weitere Information außer vielleicht einen Namen und eine E-Mail-Adresse.',
  enMasse: 'Typischerweise werden Leads en Masse weitergegeben.',
  twoWay:
    'Der Hauptunterschied zwischen einem Lead und einem Interessenten besteht darin, dass Ihr Lead sich über die einseitige Kommunikation hinausbewegt hat und nun mit Ihnen interagiert.',
  answers:
    'Das wird von zweiseitiger Kommunikation signalisiert: er antwortet auf etwas, das Sie ihm anbieten, so wie eine E-Mail, einen Anruf oder eine gute altmodische Postwurfsendung!',
  meeting:
    'In der Regel können Sie das über gezielte und personalisierte E-Mails (vielleicht durch eine E-Mail-Marketingkampagne), ein Treffen oder Anrufe herausfinden.',
  furtherAnswer:
    'Sollte der Lead auf diesen zusätzlichen Kontakt, wie z. B. auf eine E-Mail, antworten, dann wird der Lead zu einem Interessenten, da er eine zweiseitige Kommunikation initiiert hat.',
  engagement:
    'DESIGN.md: Opens and clicks are not answers: they are engagement, like site visits. [...] They never make a prospect.',
  oneToMany:
    'Der Hauptunterschied in den Kommunikationsmethoden ist also, dass in der Kommunikation mit Leads das Unternehmen mit vielen kommuniziert, während ein Interessent eine zweiseitige Kommunikation 1:1 erfordert.',
  notEveryone:
    'Denken Sie daran, dass nicht jeder in Ihrer Datenbank automatisch zu einem Interessenten wird.',
  qualifyBefore:
    'Um zu bestimmen, ob ein Lead ein Interessent ist, müssen Sie ihn vor der Kontaktaufnahme qualifizieren.',
  criteriaInAdvance:
    'Passt er zu den spezifischen Kriterien, die Sie im Vorfeld festgelegt haben um sicherzustellen, dass er für Ihr Unternehmen richtig ist?',
  criteria:
    'So brauchen Sie zum Beispiel Personen aus einer bestimmten Branche oder aus einer bestimmten Unternehmensgröße mit einem jährlichen Mindestgewinn, bevor Sie Ihre Fühler nach ihnen ausstrecken.',
  useless:
    'Erfüllt der Lead Ihre Kriterien nicht, wären alle Ihre Bemühungen nutzlos, weil er niemals daran interessiert wäre, bei Ihnen zu kaufen.',
  quote: 'Möchte er gern ein Angebot erhalten?',
  budget: 'Hat er ein Budget?',
  decisionMaker:
    'Aus diesem Grund müssen Sie sicherstellen, dass die Person, mit der Sie umgehen, der richtige Kontakt ist – also ein Entscheidungsträger – bevor Sie dann entscheiden können, welcher Level an Beharrlichkeit erforderlich ist.',
  visits: 'Wie oft hat er Ihre Seite besucht?',
  annoying:
    'Doch müssen Sie sich vor Augen führen, dass es in der Kommunikation ein schmaler Grat ist zwischen ‚regelmäßig’ und ‚nervig’.',
  flight:
    'Wenn Sie zu verzweifelt agieren oder zu einem echten Ärgernis werden, schlagen Sie Ihren Lead oder Interessenten in die Flucht.',
  current:
    'Ein Lead ist lediglich jemand, der signalisiert hat, dass er weitere Informationen wünscht – daher müssen Sie dafür sorgen, dass Ihre Datenbank stets auf dem aktuellen Stand ist.',
} as const;

const cases: SeedCase[] = [
  // "Zusammengefasst ist ein Lead also eine Person, die mindestens einige Basisdaten
  // eingegeben hat und somit ein mögliches Interesse daran zeigt, von Ihnen zu kaufen."
  {
    name: 'a person who left basic data through a form is a lead, one-way so far',
    seed: SENTENCE.lead,
    events: () => [form({ name: 'Anna Schmidt', company: 'Schmidt Maschinenbau GmbH' })],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['left_data', 'qualification_not_configured'],
    firstReason: 'left_data',
    flags: { contactable: true, stale: false, cadenceExceeded: false },
  },
  // "Tatsächlich haben Sie wohl keine weitere Information außer vielleicht einen Namen und
  // eine E-Mail-Adresse."
  {
    name: 'an email address alone is enough to be a lead',
    seed: SENTENCE.basicData,
    events: () => [form()],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['left_data'],
  },
  // "Typischerweise werden Leads en Masse weitergegeben."
  {
    name: 'an imported lead is a lead, explained as imported',
    seed: SENTENCE.enMasse,
    events: () => [event('contact_imported', day(0), { profile: { name: 'Anna' } })],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['imported'],
    firstReason: 'imported',
  },
  // "Der Hauptunterschied zwischen einem Lead und einem Interessenten besteht darin, dass
  // Ihr Lead sich über die einseitige Kommunikation hinausbewegt hat und nun mit Ihnen
  // interagiert."
  {
    name: 'a lead who moved past one-way communication (replied) is a prospect',
    seed: SENTENCE.twoWay,
    events: () => [
      form(),
      event('email_delivered', day(1)),
      event('email_replied', day(2), { matchMethod: 'reply_token' }),
    ],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication', 'not_sales_ready'],
    firstReason: 'two_way_communication',
    notReasons: ['left_data', 'engagement_only'],
  },
  // "... er antwortet auf etwas, das Sie ihm anbieten, so wie eine E-Mail, einen Anruf oder
  // eine gute altmodische Postwurfsendung!" -- an email reply.
  {
    name: 'an answer to an email makes a prospect',
    seed: SENTENCE.answers,
    events: () => [form(), event('email_replied', day(2), { matchMethod: 'in_reply_to' })],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication'],
  },
  // "... so wie eine E-Mail, einen Anruf oder eine gute altmodische Postwurfsendung!"
  // -- the lead calls in.
  {
    name: 'an inbound call makes a prospect',
    seed: SENTENCE.answers,
    events: () => [form(), event('call_logged', day(2), { direction: 'inbound', reached: true })],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication'],
  },
  // "... so wie eine E-Mail, einen Anruf oder eine gute altmodische Postwurfsendung!"
  // -- we call and the lead picks up.
  {
    name: 'an outbound call that reached the lead makes a prospect',
    seed: SENTENCE.answers,
    events: () => [form(), event('call_logged', day(2), { direction: 'outbound', reached: true })],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication'],
  },
  // "... so wie eine E-Mail, einen Anruf oder eine gute altmodische Postwurfsendung!"
  // -- we call and nobody answers: nothing was answered.
  {
    name: 'an outbound call that did not reach the lead does not make a prospect',
    seed: SENTENCE.answers,
    events: () => [form(), event('call_logged', day(2), { direction: 'outbound', reached: false })],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['left_data'],
    notReasons: ['two_way_communication'],
  },
  // "... so wie eine E-Mail, einen Anruf oder eine gute altmodische Postwurfsendung!"
  // -- the lead answers a postal mailing.
  {
    name: 'an answered postal mailing makes a prospect',
    seed: SENTENCE.answers,
    events: () => [form(), event('mail_answered', day(2))],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication'],
  },
  // "In der Regel können Sie das über gezielte und personalisierte E-Mails (...), ein Treffen
  // oder Anrufe herausfinden."
  {
    name: 'a meeting held makes a prospect',
    seed: SENTENCE.meeting,
    events: () => [form(), event('meeting_held', day(3))],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication'],
  },
  // "Sollte der Lead auf diesen zusätzlichen Kontakt, wie z. B. auf eine E-Mail, antworten,
  // dann wird der Lead zu einem Interessenten, da er eine zweiseitige Kommunikation
  // initiiert hat."
  {
    name: 'a lead who answers a follow-up email after only engaging becomes a prospect',
    seed: SENTENCE.furtherAnswer,
    events: () => [
      form(),
      event('email_delivered', day(1)),
      event('email_opened', day(1, 11)),
      event('email_delivered', day(5)),
      event('email_replied', day(6), { matchMethod: 'references' }),
    ],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication'],
    notReasons: ['engagement_only'],
  },
  // DESIGN.md: "Opens and clicks are not answers: they are engagement, like site visits.
  // Apple Mail Privacy Protection fires opens for mail nobody read. They never make a prospect."
  {
    name: 'opens, clicks, deliveries and site visits never make a prospect',
    seed: SENTENCE.engagement,
    events: () => [
      form(),
      event('email_delivered', day(1)),
      event('email_opened', day(1, 11)),
      event('email_opened', day(1, 12)),
      event('email_clicked', day(1, 13), { url: 'https://example.com/angebot' }),
      event('site_visited', day(2), { url: 'https://example.com/preise' }),
      event('site_visited', day(3)),
    ],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['left_data', 'engagement_only'],
    notReasons: ['two_way_communication'],
  },
  // "Der Hauptunterschied in den Kommunikationsmethoden ist also, dass in der Kommunikation
  // mit Leads das Unternehmen mit vielen kommuniziert, während ein Interessent eine
  // zweiseitige Kommunikation 1:1 erfordert." -- one-to-many: a campaign mail to many.
  {
    name: 'one-to-many campaign mail received (one-way) leaves a lead a lead',
    seed: SENTENCE.oneToMany,
    events: () => [
      event('contact_imported', day(0)),
      event('email_delivered', day(1), { source: 'mailgun' }),
      event('email_delivered', day(8), { source: 'mailgun' }),
      event('email_delivered', day(15), { source: 'mailgun' }),
    ],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['imported'],
    notReasons: ['two_way_communication'],
  },
  // Same sentence -- 1:1: one personal answer is what makes the prospect.
  {
    name: 'one 1:1 answer turns the same campaign recipient into a prospect',
    seed: SENTENCE.oneToMany,
    events: () => [
      event('contact_imported', day(0)),
      event('email_delivered', day(1), { source: 'mailgun' }),
      event('email_delivered', day(8), { source: 'mailgun' }),
      event('email_replied', day(9), { matchMethod: 'sender' }),
    ],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication'],
  },
  // "Denken Sie daran, dass nicht jeder in Ihrer Datenbank automatisch zu einem
  // Interessenten wird."
  {
    name: 'a qualified lead that never answered stays qualified, not a prospect',
    seed: SENTENCE.notEveryone,
    events: () => [form(QUALIFIED_PROFILE), event('email_opened', day(2))],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'qualified',
    reasons: ['qualification_met', 'engagement_only'],
    firstReason: 'qualification_met',
    notReasons: ['two_way_communication'],
  },
  // "Um zu bestimmen, ob ein Lead ein Interessent ist, müssen Sie ihn vor der
  // Kontaktaufnahme qualifizieren." -- with prospectRequiresQualification, an answer from a
  // lead not yet qualified does not make a prospect.
  {
    name: 'with qualification required first, an unqualified answering lead stays a lead',
    seed: SENTENCE.qualifyBefore,
    events: () => [
      form({ industry: 'Maschinenbau', employees: 120, country: 'DE' }),
      event('email_replied', day(2), { matchMethod: 'reply_token' }),
    ],
    config: config({
      industries: { allowed: ['Maschinenbau'] },
      minEmployees: 50,
      minAnnualRevenue: { amount: 5_000_000, currency: 'EUR' },
      prospectRequiresQualification: true,
    }),
    stage: 'lead',
    reasons: ['prospect_awaits_qualification', 'qualification_unknown'],
    missing: ['annualRevenue'],
  },
  // "Passt er zu den spezifischen Kriterien, die Sie im Vorfeld festgelegt haben um
  // sicherzustellen, dass er für Ihr Unternehmen richtig ist?" -- missing data is unknown,
  // not failed.
  {
    name: 'a lead whose data is missing is undecided (unknown), not disqualified',
    seed: SENTENCE.criteriaInAdvance,
    events: () => [form({ industry: 'Maschinenbau', employees: 120, country: 'DE' })],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'lead',
    reasons: ['left_data', 'qualification_unknown'],
    notReasons: ['revenue_below_minimum'],
    missing: ['annualRevenue'],
  },
  // "So brauchen Sie zum Beispiel Personen aus einer bestimmten Branche oder aus einer
  // bestimmten Unternehmensgröße mit einem jährlichen Mindestgewinn, bevor Sie Ihre Fühler
  // nach ihnen ausstrecken."
  {
    name: 'a lead in a targeted industry, of sufficient size and minimum revenue is qualified',
    seed: SENTENCE.criteria,
    events: () => [form(QUALIFIED_PROFILE)],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'qualified',
    reasons: ['qualification_met', 'left_data'],
    firstReason: 'qualification_met',
    missing: [],
  },
  // "Erfüllt der Lead Ihre Kriterien nicht, wären alle Ihre Bemühungen nutzlos, weil er
  // niemals daran interessiert wäre, bei Ihnen zu kaufen." -- the industry.
  {
    name: 'a lead from an excluded industry is disqualified (industry_excluded)',
    seed: SENTENCE.useless,
    events: () => [form({ ...QUALIFIED_PROFILE, industry: 'glücksspiel' })],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'disqualified',
    reasons: ['industry_excluded'],
    firstReason: 'industry_excluded',
  },
  // Same sentence -- the company size.
  {
    name: 'a lead below the minimum company size is disqualified (employees_below_minimum)',
    seed: SENTENCE.useless,
    events: () => [form({ ...QUALIFIED_PROFILE, employees: 20 })],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'disqualified',
    reasons: ['employees_below_minimum'],
    firstReason: 'employees_below_minimum',
  },
  // Same sentence -- the minimum annual revenue.
  {
    name: 'a lead below the minimum annual revenue is disqualified (revenue_below_minimum)',
    seed: SENTENCE.useless,
    events: () => [
      form({ ...QUALIFIED_PROFILE, annualRevenue: { amount: 4_000_000, currency: 'EUR' } }),
    ],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'disqualified',
    reasons: ['revenue_below_minimum'],
    firstReason: 'revenue_below_minimum',
  },
  // Same sentence -- "alle Ihre Bemühungen nutzlos": even an answer does not help.
  {
    name: 'a lead that fails a hard criterion stays disqualified even after answering',
    seed: SENTENCE.useless,
    events: () => [
      form({ ...QUALIFIED_PROFILE, country: 'US' }),
      event('meeting_held', day(3)),
      event('quote_requested', day(4)),
    ],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'disqualified',
    reasons: ['country_not_served', 'two_way_communication'],
    firstReason: 'country_not_served',
    notReasons: ['sales_ready'],
  },
  // "Möchte er gern ein Angebot erhalten?"
  {
    name: 'a prospect who wants a quote is sales-ready',
    seed: SENTENCE.quote,
    events: () => [
      form(QUALIFIED_PROFILE),
      event('email_replied', day(2), { matchMethod: 'reply_token' }),
      event('quote_requested', day(3)),
    ],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'sales_ready',
    reasons: ['sales_ready', 'two_way_communication'],
    firstReason: 'sales_ready',
  },
  // "Hat er ein Budget?" -- a budget alone does not make a prospect sales-ready (default rule:
  // a quote, or a budget and the decision maker).
  {
    name: 'a prospect with a budget but no decision maker reached is not sales-ready yet',
    seed: SENTENCE.budget,
    events: () => [
      form(QUALIFIED_PROFILE),
      event('call_logged', day(2), { direction: 'inbound', reached: true }),
      event('budget_confirmed', day(3), { budget: { amount: 40_000, currency: 'EUR' } }),
    ],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'prospect',
    reasons: ['two_way_communication', 'not_sales_ready'],
    notReasons: ['sales_ready'],
  },
  // "... dass die Person, mit der Sie umgehen, der richtige Kontakt ist – also ein
  // Entscheidungsträger ..." -- budget and the decision maker reached.
  {
    name: 'a prospect with a budget who is the decision maker is sales-ready',
    seed: SENTENCE.decisionMaker,
    events: () => [
      form(QUALIFIED_PROFILE),
      event('meeting_held', day(2)),
      event('budget_confirmed', day(3)),
      event('decision_maker_identified', day(3, 11)),
    ],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'sales_ready',
    reasons: ['sales_ready', 'two_way_communication'],
    firstReason: 'sales_ready',
  },
  // Same sentence -- the person is not the decision maker: not the right contact yet.
  {
    name: 'a prospect with a budget who is not the decision maker is not sales-ready',
    seed: SENTENCE.decisionMaker,
    events: () => [
      form(QUALIFIED_PROFILE),
      event('meeting_held', day(2)),
      event('budget_confirmed', day(3)),
      event('decision_maker_identified', day(3, 11), { isDecisionMaker: false }),
    ],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'prospect',
    reasons: ['not_sales_ready'],
  },
  // "Wie oft hat er Ihre Seite besucht?" -- salesReady.minSiteVisits, too few visits.
  {
    name: 'with a minimum of site visits, a quote alone is not enough when visits are too few',
    seed: SENTENCE.visits,
    events: () => [
      form(),
      event('email_replied', day(2), { matchMethod: 'reply_token' }),
      event('quote_requested', day(3)),
      event('site_visited', day(3, 11)),
    ],
    config: config({ salesReady: { minSiteVisits: 3 } }),
    stage: 'prospect',
    reasons: ['not_sales_ready'],
    notReasons: ['sales_ready'],
  },
  // Same question -- enough visits.
  {
    name: 'with a minimum of site visits, a quote and enough visits is sales-ready',
    seed: SENTENCE.visits,
    events: () => [
      form(),
      event('email_replied', day(2), { matchMethod: 'reply_token' }),
      event('quote_requested', day(3)),
      event('site_visited', day(3, 11)),
      event('site_visited', day(4)),
      event('site_visited', day(5)),
    ],
    config: config({ salesReady: { minSiteVisits: 3 } }),
    stage: 'sales_ready',
    reasons: ['sales_ready'],
  },
  // "... dass es in der Kommunikation ein schmaler Grat ist zwischen ‚regelmäßig’ und
  // ‚nervig’." -- more outbound touches than the ceiling in the window.
  {
    name: 'more outbound touches than the cadence ceiling flags cadenceExceeded, stage unchanged',
    seed: SENTENCE.annoying,
    events: () => [
      form(),
      ...[30, 31, 32, 33, 34, 35, 36].map((n) => event('email_delivered', day(n))),
    ],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['left_data', 'cadence_exceeded'],
    flags: { cadenceExceeded: true, contactable: true },
  },
  // Same sentence -- regular, not annoying: exactly the ceiling is allowed.
  {
    name: 'outbound touches up to the cadence ceiling are regular, not annoying',
    seed: SENTENCE.annoying,
    events: () => [
      form(),
      ...[30, 31, 32, 33, 34, 35].map((n) => event('email_delivered', day(n))),
    ],
    config: UNCONFIGURED,
    stage: 'lead',
    reasons: ['left_data'],
    notReasons: ['cadence_exceeded'],
    flags: { cadenceExceeded: false },
  },
  // "Wenn Sie zu verzweifelt agieren oder zu einem echten Ärgernis werden, schlagen Sie
  // Ihren Lead oder Interessenten in die Flucht." -- the prospect unsubscribes.
  {
    name: 'a prospect who unsubscribed is not contactable, and still a prospect',
    seed: SENTENCE.flight,
    events: () => [
      form(),
      event('email_replied', day(2), { matchMethod: 'reply_token' }),
      event('unsubscribed', day(5)),
    ],
    config: UNCONFIGURED,
    stage: 'prospect',
    reasons: ['two_way_communication', 'not_contactable_unsubscribed'],
    flags: { contactable: false },
  },
  // "... daher müssen Sie dafür sorgen, dass Ihre Datenbank stets auf dem aktuellen Stand
  // ist." -- a contact with no activity of its own for staleAfterDays is flagged stale.
  {
    name: 'a contact without own activity for staleAfterDays is flagged stale, stage unchanged',
    seed: SENTENCE.current,
    events: () => [form(), event('email_replied', day(2), { matchMethod: 'reply_token' })],
    config: UNCONFIGURED,
    now: new Date(day(2 + 181)),
    stage: 'prospect',
    reasons: ['two_way_communication', 'stale'],
    flags: { stale: true },
  },
  // Same sentence -- the newest data counts: a later correction replaces an older value,
  // whatever order they arrive in.
  {
    name: 'the database stays current: a later revenue correction wins over an earlier value',
    seed: SENTENCE.current,
    events: () => [
      event('profile_updated', day(5), {
        profile: { annualRevenue: { amount: 6_000_000, currency: 'EUR' } },
      }),
      form({ ...QUALIFIED_PROFILE, annualRevenue: { amount: 1_000_000, currency: 'EUR' } }),
    ],
    config: DOCS_EXAMPLE_CONFIG,
    stage: 'qualified',
    reasons: ['qualification_met'],
    notReasons: ['revenue_below_minimum', 'stale'],
    flags: { stale: false },
  },
];

describe('the seed document, statement by statement', () => {
  it.each(cases)('$name', (seedCase) => {
    expect(seedCase.seed.length).toBeGreaterThan(0);
    const verdict = deriveStage(
      factsOf(seedCase.events()),
      seedCase.config ?? UNCONFIGURED,
      seedCase.now ?? NOW,
    );
    const reasonCodes = codes(verdict);
    expect(verdict.stage).toBe(seedCase.stage);
    expect(seedCase.reasons.length).toBeGreaterThan(0);
    expect(reasonCodes).toEqual(expect.arrayContaining(seedCase.reasons));
    for (const code of seedCase.notReasons ?? []) expect(reasonCodes).not.toContain(code);
    if (seedCase.firstReason !== undefined) expect(reasonCodes[0]).toBe(seedCase.firstReason);
    if (seedCase.missing !== undefined) expect(verdict.missing).toEqual(seedCase.missing);
    if (seedCase.flags !== undefined) expect(verdict.flags).toMatchObject(seedCase.flags);
    expectExplained(verdict);
  });
});
