import { describe, expect, it } from 'vitest';
import { ConfigError, parseAppConfig } from '../../../lib/config/app-config.ts';
import {
  type CriterionVerdict,
  evaluateQualification,
  type QualificationConfig,
  qualificationConfigSchema,
} from '../../../lib/domain/qualification.ts';
import { deriveStage } from '../../../lib/domain/stage.ts';
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

/** The facts of a contact known from one form submission with `profile`. */
function lead(profile: Record<string, unknown>, email?: string) {
  return factsOf([event('form_submitted', day(0), { profile, ...(email ? { email } : {}) })]);
}

function criterion(verdict: { criteria: CriterionVerdict[] }, name: CriterionVerdict['criterion']) {
  return verdict.criteria.find((c) => c.criterion === name);
}

const revenueConfig = config({
  minAnnualRevenue: { amount: 5_000_000, currency: 'EUR' },
  exchangeRates: { USD: 0.92, CHF: 1.05 },
});

describe('annual revenue is compared currency-aware', () => {
  it.each([
    [{ amount: 5_000_000, currency: 'EUR' }, 'met', 'revenue_sufficient'],
    [{ amount: 4_999_999, currency: 'EUR' }, 'failed', 'revenue_below_minimum'],
    [{ amount: 5_000_000, currency: 'eur' }, 'met', 'revenue_sufficient'],
  ])('in the same currency: %j is %s', (annualRevenue, result, code) => {
    const verdict = evaluateQualification(lead({ annualRevenue }), revenueConfig);
    expect(criterion(verdict, 'annualRevenue')).toMatchObject({ result, code });
  });

  it('converts another currency through exchangeRates (USD at 0.92)', () => {
    // 5,500,000 USD * 0.92 = 5,060,000 EUR >= 5,000,000 EUR
    const enough = evaluateQualification(
      lead({ annualRevenue: { amount: 5_500_000, currency: 'USD' } }),
      revenueConfig,
    );
    expect(criterion(enough, 'annualRevenue')).toMatchObject({
      result: 'met',
      code: 'revenue_sufficient',
    });
    // 5,400,000 USD * 0.92 = 4,968,000 EUR < 5,000,000 EUR, although 5.4M > 5M nominally.
    const short = evaluateQualification(
      lead({ annualRevenue: { amount: 5_400_000, currency: 'USD' } }),
      revenueConfig,
    );
    expect(criterion(short, 'annualRevenue')).toMatchObject({
      result: 'failed',
      code: 'revenue_below_minimum',
    });
    expect(short.status).toBe('failed');
    // CHF at 1.05: 4,800,000 CHF = 5,040,000 EUR, although 4.8M < 5M nominally.
    const chf = evaluateQualification(
      lead({ annualRevenue: { amount: 4_800_000, currency: 'CHF' } }),
      revenueConfig,
    );
    expect(criterion(chf, 'annualRevenue')?.result).toBe('met');
  });

  it('accepts exchange-rate keys in lower case', () => {
    const lower = config({
      minAnnualRevenue: { amount: 5_000_000, currency: 'EUR' },
      exchangeRates: { usd: 0.92 },
    });
    const verdict = evaluateQualification(
      lead({ annualRevenue: { amount: 6_000_000, currency: 'USD' } }),
      lower,
    );
    expect(criterion(verdict, 'annualRevenue')?.result).toBe('met');
  });

  it('without a rate, another currency is unknown (revenue_currency_unconvertible), never compared', () => {
    for (const amount of [1, 50_000_000]) {
      const facts = lead({ annualRevenue: { amount, currency: 'GBP' } });
      const verdict = evaluateQualification(facts, revenueConfig);
      expect(criterion(verdict, 'annualRevenue')).toMatchObject({
        result: 'unknown',
        code: 'revenue_currency_unconvertible',
      });
      expect(criterion(verdict, 'annualRevenue')?.message).toContain('GBP');
      expect(verdict.status).toBe('unknown');
      const stage = deriveStage(facts, revenueConfig, NOW);
      expect(stage.stage).toBe('lead');
      expect(codes(stage)).toContain('qualification_unknown');
      expect(codes(stage)).not.toContain('revenue_below_minimum');
      expect(codes(stage)).not.toContain('revenue_sufficient');
    }
  });

  // Exactly the converted minimum meets it ("Mindestgewinn"): 7,000,000 at 1.17 is exactly
  // 8,190,000, but 7_000_000 * 1.17 in floating point is 8189999.999999999.
  it('a revenue exactly at the converted minimum meets it (no floating-point shortfall)', () => {
    const gbp = config({
      minAnnualRevenue: { amount: 8_190_000, currency: 'EUR' },
      exchangeRates: { GBP: 1.17 },
    });
    const verdict = evaluateQualification(
      lead({ annualRevenue: { amount: 7_000_000, currency: 'GBP' } }),
      gbp,
    );
    expect(criterion(verdict, 'annualRevenue')).toMatchObject({
      result: 'met',
      code: 'revenue_sufficient',
    });
  });

  it('a missing revenue is unknown and listed in missing', () => {
    const verdict = evaluateQualification(lead({}), revenueConfig);
    expect(criterion(verdict, 'annualRevenue')).toMatchObject({
      result: 'unknown',
      code: 'revenue_unknown',
    });
    expect(verdict.missing).toEqual(['annualRevenue']);
  });
});

describe('industries', () => {
  const industries = config({
    industries: { allowed: ['Maschinenbau', 'automotive'], excluded: ['GLÜCKSSPIEL'] },
  });

  it.each([
    ['Maschinenbau', 'met', 'industry_targeted'],
    ['MASCHINENBAU', 'met', 'industry_targeted'],
    ['Automotive', 'met', 'industry_targeted'],
    ['Glücksspiel', 'failed', 'industry_excluded'],
    ['glücksspiel', 'failed', 'industry_excluded'],
    ['Retail', 'failed', 'industry_not_targeted'],
  ])('%s is %s (%s), case-insensitive', (industry, result, code) => {
    const verdict = evaluateQualification(lead({ industry }), industries);
    expect(criterion(verdict, 'industry')).toMatchObject({ result, code, hard: true });
  });

  it('only excluded industries: any other industry is met', () => {
    const verdict = evaluateQualification(
      lead({ industry: 'Retail' }),
      config({ industries: { excluded: ['Glücksspiel'] } }),
    );
    expect(criterion(verdict, 'industry')?.result).toBe('met');
    expect(verdict.status).toBe('met');
  });

  it('an unknown industry is unknown, listed in missing', () => {
    const verdict = evaluateQualification(lead({}), industries);
    expect(criterion(verdict, 'industry')).toMatchObject({
      result: 'unknown',
      code: 'industry_unknown',
    });
    expect(verdict.missing).toEqual(['industry']);
  });
});

describe('company size and country', () => {
  it.each([
    [49, 'failed', 'employees_below_minimum'],
    [50, 'met', 'employees_sufficient'],
    [5000, 'met', 'employees_sufficient'],
  ])('%i employees against a minimum of 50 is %s', (employees, result, code) => {
    const verdict = evaluateQualification(lead({ employees }), config({ minEmployees: 50 }));
    expect(criterion(verdict, 'employees')).toMatchObject({ result, code });
  });

  it.each([
    ['DE', 'met', 'country_served'],
    ['at', 'met', 'country_served'],
    ['US', 'failed', 'country_not_served'],
  ])('country %s against DE, AT, CH is %s', (country, result, code) => {
    const verdict = evaluateQualification(
      lead({ country }),
      config({ countries: ['de', 'AT', 'CH'] }),
    );
    expect(criterion(verdict, 'country')).toMatchObject({ result, code });
  });

  it('an unknown country is unknown, listed in missing', () => {
    const verdict = evaluateQualification(lead({}), config({ countries: ['DE'] }));
    expect(criterion(verdict, 'country')?.code).toBe('country_unknown');
    expect(verdict.missing).toEqual(['country']);
  });

  it('lists every missing field that would decide the qualification', () => {
    const verdict = evaluateQualification(lead({ industry: 'Maschinenbau' }), DOCS_EXAMPLE_CONFIG);
    expect(verdict.status).toBe('unknown');
    expect([...verdict.missing].sort()).toEqual(['annualRevenue', 'country', 'employees']);
  });
});

describe('the email domain', () => {
  const withEmployees = (freeMail: string, disposableEmail = 'hard') =>
    config({ minEmployees: 10, freeMail, disposableEmail });

  it('free mail is a soft failure by default: never disqualifies, keeps from qualified', () => {
    const facts = lead({ employees: 100 }, 'anna@gmail.com');
    const verdict = deriveStage(facts, withEmployees('soft'), NOW);
    expect(verdict.qualification).toBe('soft_failed');
    expect(verdict.stage).toBe('lead');
    expect(codes(verdict)).toContain('free_mail');
    expect(codes(verdict)).not.toContain('qualification_met');
    expectExplained(verdict);
    // Answering still makes a prospect: soft failures never disqualify.
    const answered = factsOf([
      event('form_submitted', day(0), { email: 'anna@gmail.com', profile: { employees: 100 } }),
      event('email_replied', day(1), { email: 'anna@gmail.com', matchMethod: 'sender' }),
    ]);
    expect(deriveStage(answered, withEmployees('soft'), NOW).stage).toBe('prospect');
  });

  it('free mail set to hard disqualifies (free_mail)', () => {
    const verdict = deriveStage(
      lead({ employees: 100 }, 'anna@GMX.de'),
      withEmployees('hard'),
      NOW,
    );
    expect(verdict.stage).toBe('disqualified');
    expect(codes(verdict)[0]).toBe('free_mail');
  });

  it('free mail set to allow does not count against the lead', () => {
    const verdict = deriveStage(
      lead({ employees: 100 }, 'anna@web.de'),
      withEmployees('allow'),
      NOW,
    );
    expect(verdict.stage).toBe('qualified');
    expect(codes(verdict)).not.toContain('free_mail');
  });

  it('a company domain is no free mail', () => {
    const verdict = deriveStage(lead({ employees: 100 }), withEmployees('hard'), NOW);
    expect(verdict.stage).toBe('qualified');
  });

  it('freeMailDomains extends the built-in list', () => {
    const extended = config({
      minEmployees: 10,
      freeMail: 'hard',
      freeMailDomains: ['Mail.Example'],
    });
    const verdict = evaluateQualification(lead({ employees: 100 }, 'a@mail.example'), extended);
    expect(criterion(verdict, 'emailDomain')?.code).toBe('free_mail');
  });

  it('a disposable address disqualifies by default (disposable_email), even unconfigured', () => {
    const verdict = deriveStage(lead({}, 'x@mailinator.com'), config(), NOW);
    expect(verdict.stage).toBe('disqualified');
    expect(codes(verdict)[0]).toBe('disposable_email');
    expectExplained(verdict);
  });

  it('disposable set to soft keeps from qualified without disqualifying; allow ignores it', () => {
    const soft = deriveStage(
      lead({ employees: 100 }, 'x@yopmail.com'),
      withEmployees('soft', 'soft'),
      NOW,
    );
    expect(soft.stage).toBe('lead');
    expect(codes(soft)).toContain('disposable_email');
    const allow = deriveStage(
      lead({ employees: 100 }, 'x@yopmail.com'),
      withEmployees('soft', 'allow'),
      NOW,
    );
    expect(allow.stage).toBe('qualified');
  });

  it('disposableDomains extends the built-in list', () => {
    const extended = config({ disposableDomains: ['throwaway.example'] });
    const verdict = deriveStage(lead({}, 'x@throwaway.example'), extended, NOW);
    expect(verdict.stage).toBe('disqualified');
    expect(codes(verdict)).toContain('disposable_email');
  });
});

describe('hard and soft criteria', () => {
  const softEmployees = config({
    ...DOCS_EXAMPLE_CONFIG,
    hardCriteria: ['industry', 'annualRevenue', 'country'],
  });

  it('a failed soft criterion never disqualifies, but keeps the lead from qualified', () => {
    const verdict = deriveStage(lead({ ...QUALIFIED_PROFILE, employees: 20 }), softEmployees, NOW);
    expect(verdict.qualification).toBe('soft_failed');
    expect(verdict.stage).toBe('lead');
    expect(codes(verdict)).toContain('employees_below_minimum');
    expect(codes(verdict)).not.toContain('qualification_met');
    expect(verdict.missing).toEqual([]);
    expectExplained(verdict);
  });

  it('a failed soft criterion does not stop an answer from making a prospect', () => {
    const facts = factsOf([
      event('form_submitted', day(0), { profile: { ...QUALIFIED_PROFILE, employees: 20 } }),
      event('meeting_held', day(1)),
    ]);
    const verdict = deriveStage(facts, softEmployees, NOW);
    expect(verdict.stage).toBe('prospect');
    expect(codes(verdict)).toContain('employees_below_minimum');
  });

  it('the same failure under the default (hard) criteria disqualifies', () => {
    const verdict = deriveStage(
      lead({ ...QUALIFIED_PROFILE, employees: 20 }),
      DOCS_EXAMPLE_CONFIG,
      NOW,
    );
    expect(verdict.stage).toBe('disqualified');
    expect(codes(verdict)).toEqual(['employees_below_minimum']);
  });

  it('a hard failure wins over unknown data elsewhere', () => {
    const verdict = evaluateQualification(lead({ industry: 'Glücksspiel' }), DOCS_EXAMPLE_CONFIG);
    expect(verdict.status).toBe('failed');
  });
});

describe('unconfigured qualification', () => {
  const unconfigured = config();

  it('qualifies nobody, whatever the data (qualification_not_configured)', () => {
    const verdict = deriveStage(lead(QUALIFIED_PROFILE), unconfigured, NOW);
    expect(verdict.qualification).toBe('unconfigured');
    expect(verdict.stage).toBe('lead');
    expect(codes(verdict)).toContain('qualification_not_configured');
    expect(verdict.missing).toEqual([]);
    expectExplained(verdict);
  });

  it('still lets answers make prospects', () => {
    const facts = factsOf([event('form_submitted', day(0)), event('mail_answered', day(1))]);
    const verdict = deriveStage(facts, unconfigured, NOW);
    expect(verdict.stage).toBe('prospect');
    expect(codes(verdict)).toContain('qualification_not_configured');
  });

  // docs/stages.md: "No firmographic criterion configured (the default) means nobody is
  // `qualified`: the reason `qualification_not_configured` says so." A free-mail address
  // under the default config (freeMail: soft) must still be told so.
  it('says qualification_not_configured for a free-mail lead under the default config too', () => {
    const verdict = deriveStage(lead({}, 'anna@gmail.com'), unconfigured, NOW);
    expect(verdict.stage).toBe('lead');
    expect(codes(verdict)).toContain('qualification_not_configured');
  });
});

describe('prospectRequiresQualification', () => {
  const required = config({ ...DOCS_EXAMPLE_CONFIG, prospectRequiresQualification: true });
  const answered = (profile: Record<string, unknown>) =>
    factsOf([
      event('form_submitted', day(0), { profile }),
      event('email_replied', day(1), { matchMethod: 'reply_token' }),
    ]);

  it('an answer from an unknown-qualification lead leaves it a lead (prospect_awaits_qualification)', () => {
    const verdict = deriveStage(answered({ industry: 'Maschinenbau' }), required, NOW);
    expect(verdict.stage).toBe('lead');
    expect(codes(verdict)).toEqual(
      expect.arrayContaining(['prospect_awaits_qualification', 'qualification_unknown']),
    );
    expectExplained(verdict);
  });

  it('an answer from a qualified lead makes a prospect', () => {
    const verdict = deriveStage(answered(QUALIFIED_PROFILE), required, NOW);
    expect(verdict.stage).toBe('prospect');
    expect(codes(verdict)).toContain('two_way_communication');
  });

  it('without the option, the same unknown lead becomes a prospect on answering', () => {
    const verdict = deriveStage(answered({ industry: 'Maschinenbau' }), DOCS_EXAMPLE_CONFIG, NOW);
    expect(verdict.stage).toBe('prospect');
    expect(codes(verdict)).toContain('qualification_unknown');
  });

  it('a soft-failed answering lead stays a lead', () => {
    const soft = config({ ...required, freeMail: 'soft' });
    const facts = factsOf([
      event('form_submitted', day(0), { email: 'a@gmail.com', profile: QUALIFIED_PROFILE }),
      event('meeting_held', day(1), { email: 'a@gmail.com' }),
    ]);
    const verdict = deriveStage(facts, soft, NOW);
    expect(verdict.stage).toBe('lead');
    expect(codes(verdict)).toContain('prospect_awaits_qualification');
  });
});

describe('config validation', () => {
  function issuesOf(input: unknown): string[] {
    const result = qualificationConfigSchema.safeParse(input);
    expect(result.success).toBe(false);
    return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
  }

  function appConfigError(qualification: unknown): string {
    try {
      parseAppConfig({ qualification }, 'leadstage.json');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  }

  it('the defaults are those documented in docs/stages.md', () => {
    const defaults: QualificationConfig = config();
    expect(defaults).toEqual({
      industries: { excluded: [] },
      exchangeRates: {},
      freeMail: 'soft',
      disposableEmail: 'hard',
      freeMailDomains: [],
      disposableDomains: [],
      hardCriteria: ['industry', 'employees', 'annualRevenue', 'country'],
      prospectRequiresQualification: false,
      salesReady: {
        anyOf: [['quote_requested'], ['budget_confirmed', 'decision_maker_identified']],
        minSiteVisits: 0,
      },
      staleAfterDays: 180,
      cadence: { maxTouches: 6, windowDays: 30 },
    });
    expect(parseAppConfig({}, 'x').qualification).toEqual(defaults);
  });

  it('accepts the example of docs/stages.md', () => {
    expect(() =>
      parseAppConfig(
        {
          forms: [{ id: 'contact' }],
          qualification: {
            industries: { allowed: ['Maschinenbau', 'Automotive'], excluded: ['Glücksspiel'] },
            minEmployees: 50,
            minAnnualRevenue: { amount: 5000000, currency: 'EUR' },
            exchangeRates: { USD: 0.92, CHF: 1.05 },
            countries: ['DE', 'AT', 'CH'],
          },
        },
        'x',
      ),
    ).not.toThrow();
  });

  it.each([
    ['a negative minEmployees', { minEmployees: -1 }, 'qualification.minEmployees'],
    ['a fractional minEmployees', { minEmployees: 1.5 }, 'qualification.minEmployees'],
    ['minEmployees as text', { minEmployees: '50' }, 'qualification.minEmployees'],
    ['a country name for a code', { countries: ['Germany'] }, 'qualification.countries.0'],
    ['a second bad country', { countries: ['DE', 'DEU'] }, 'qualification.countries.1'],
    [
      'a revenue currency that is no ISO code',
      { minAnnualRevenue: { amount: 5, currency: 'EURO' } },
      'qualification.minAnnualRevenue.currency',
    ],
    [
      'a negative minimum revenue',
      { minAnnualRevenue: { amount: -5, currency: 'EUR' } },
      'qualification.minAnnualRevenue.amount',
    ],
    ['a zero exchange rate', { exchangeRates: { USD: 0 } }, 'qualification.exchangeRates.USD'],
    ['an unknown free-mail mode', { freeMail: 'block' }, 'qualification.freeMail'],
    [
      'a domain without a dot',
      { disposableDomains: ['localhost'] },
      'qualification.disposableDomains.0',
    ],
    [
      'emailDomain as a hard criterion',
      { hardCriteria: ['emailDomain'] },
      'qualification.hardCriteria.0',
    ],
    [
      'an unknown sales-ready signal',
      { salesReady: { anyOf: [['quote']] } },
      'qualification.salesReady.anyOf.0.0',
    ],
    [
      'an empty sales-ready set',
      { salesReady: { anyOf: [[]] } },
      'qualification.salesReady.anyOf.0',
    ],
    ['zero staleAfterDays', { staleAfterDays: 0 }, 'qualification.staleAfterDays'],
    ['zero maxTouches', { cadence: { maxTouches: 0 } }, 'qualification.cadence.maxTouches'],
  ])('refuses %s, naming %s', (_label, qualification, path) => {
    expect(appConfigError(qualification)).toContain(`${path}:`);
  });

  it('refuses an industry both allowed and excluded (case-insensitive), naming it', () => {
    const input = { industries: { allowed: ['Maschinenbau', 'Retail'], excluded: ['retail'] } };
    expect(issuesOf(input)).toEqual(['industries.excluded.0']);
    const message = appConfigError(input);
    expect(message).toContain('qualification.industries.excluded.0');
    expect(message).toContain('"retail" is both allowed and excluded');
  });

  it.each([
    ['at the top of qualification', { minEmployee: 50 }, 'qualification', 'minEmployee'],
    ['in industries', { industries: { include: ['A'] } }, 'qualification.industries', 'include'],
    ['in salesReady', { salesReady: { minVisits: 2 } }, 'qualification.salesReady', 'minVisits'],
    ['in cadence', { cadence: { max: 2 } }, 'qualification.cadence', 'max'],
  ])('refuses an unknown key %s, naming the object and the key', (_label, input, path, key) => {
    const message = appConfigError(input);
    expect(message).toContain(`${path}:`);
    expect(message).toContain(`"${key}"`);
  });
});
