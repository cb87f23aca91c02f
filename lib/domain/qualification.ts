import { z } from 'zod';
import { countrySchema, currencySchema, moneySchema } from './events.ts';
import { type ContactFacts, MAX_KEPT_TOUCHES, type Signal } from './facts.ts';

/** The criteria a lead is qualified against, set in advance by the business. */
export const CRITERIA = [
  'industry',
  'employees',
  'annualRevenue',
  'country',
  'emailDomain',
] as const;
export type Criterion = (typeof CRITERIA)[number];

/** What each criterion is decided by, for "missing data" answers. */
export const CRITERION_FIELD: Record<Criterion, string> = {
  industry: 'industry',
  employees: 'employees',
  annualRevenue: 'annualRevenue',
  country: 'country',
  emailDomain: 'email',
};

const domainSchema = z
  .string()
  .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain such as example.com')
  .transform((domain) => domain.toLowerCase());

const salesReadySignal = z.enum([
  'quote_requested',
  'budget_confirmed',
  'decision_maker_identified',
]);

/**
 * The qualification config: which criteria apply, which of them are hard (a failure
 * disqualifies) and which soft (a failure only keeps the lead from `qualified`), the
 * sales-ready rule, staleness and the cadence ceiling. Every key has a default.
 */
export const qualificationConfigSchema = z
  .object({
    industries: z
      .object({
        /** When set, only these industries qualify (case-insensitive). */
        allowed: z
          .array(z.string().min(1))
          .min(1, 'leave it out to allow every industry')
          .optional(),
        /** These industries never qualify (case-insensitive). */
        excluded: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({ excluded: [] }),
    minEmployees: z.number().int().nonnegative().optional(),
    /** Compared only in this currency or through `exchangeRates`; never mixed silently. */
    minAnnualRevenue: moneySchema.optional(),
    /** Units of `minAnnualRevenue.currency` per unit of the keyed currency, e.g. {"USD": 0.92}. */
    exchangeRates: z.record(currencySchema, z.number().positive().finite()).default({}),
    /** Countries served (ISO 3166-1 alpha-2); when unset, every country is. */
    countries: z.array(countrySchema).min(1, 'leave it out to serve every country').optional(),
    /** Free-mail addresses (gmail.com, gmx.de, ...): allowed, a soft or a hard failure. */
    freeMail: z.enum(['allow', 'soft', 'hard']).default('soft'),
    /** Disposable addresses (mailinator.com, ...): allowed, a soft or a hard failure. */
    disposableEmail: z.enum(['allow', 'soft', 'hard']).default('hard'),
    /** Domains added to the built-in free-mail list. */
    freeMailDomains: z.array(domainSchema).default([]),
    /** Domains added to the built-in disposable list. */
    disposableDomains: z.array(domainSchema).default([]),
    /** Which of industry, employees, annualRevenue, country disqualify when failed; the rest are soft. */
    hardCriteria: z
      .array(z.enum(['industry', 'employees', 'annualRevenue', 'country']))
      .default(['industry', 'employees', 'annualRevenue', 'country']),
    /**
     * Whether a contact whose qualification is still unknown (data missing) or soft-failed
     * becomes a prospect when it answers. When false, it stays a lead until qualified.
     */
    prospectRequiresQualification: z.boolean().default(false),
    salesReady: z
      .object({
        /** Sales-ready when every signal of any one set is present (and the prospect is two-way). */
        anyOf: z
          .array(z.array(salesReadySignal).min(1))
          .min(1)
          .default([['quote_requested'], ['budget_confirmed', 'decision_maker_identified']]),
        /** Site visits needed in addition ("Wie oft hat er Ihre Seite besucht?"). */
        minSiteVisits: z.number().int().nonnegative().default(0),
      })
      .strict()
      .default({
        anyOf: [['quote_requested'], ['budget_confirmed', 'decision_maker_identified']],
        minSiteVisits: 0,
      }),
    /** A contact with no activity of its own for this many days is flagged stale. */
    // At most 100 years: a longer one is no limit and would only mislead (decision 50).
    staleAfterDays: z.number().int().positive().max(36_500).default(180),
    /** At most `maxTouches` outbound touches in `windowDays`; more sets `cadenceExceeded`. */
    cadence: z
      .object({
        // The facts keep the newest MAX_KEPT_TOUCHES touches: a higher ceiling could never be seen exceeded.
        maxTouches: z
          .number()
          .int()
          .positive()
          .max(MAX_KEPT_TOUCHES - 1)
          .default(6),
        windowDays: z.number().int().positive().max(36_500).default(30),
      })
      .strict()
      .default({ maxTouches: 6, windowDays: 30 }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const allowed = new Set(config.industries.allowed?.map((industry) => industry.toLowerCase()));
    config.industries.excluded.forEach((industry, index) => {
      if (allowed.has(industry.toLowerCase())) {
        ctx.addIssue({
          code: 'custom',
          path: ['industries', 'excluded', index],
          message: `"${industry}" is both allowed and excluded`,
        });
      }
    });
  });
export type QualificationConfig = z.output<typeof qualificationConfigSchema>;

export const defaultQualificationConfig: QualificationConfig = qualificationConfigSchema.parse({});

/**
 * Well-known free-mail providers (international and German-speaking). Kept short and
 * curated on purpose: the npm lists either fetch their data at install time or run to
 * megabytes; a deployment adds its own through `freeMailDomains`.
 */
export const BUILT_IN_FREE_MAIL = [
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'yahoo.de',
  'ymail.com',
  'outlook.com',
  'outlook.de',
  'hotmail.com',
  'hotmail.de',
  'live.com',
  'live.de',
  'msn.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'aol.de',
  'gmx.de',
  'gmx.net',
  'gmx.at',
  'gmx.ch',
  'gmx.com',
  'web.de',
  't-online.de',
  'freenet.de',
  'posteo.de',
  'mailbox.org',
  'mail.de',
  'arcor.de',
  'online.de',
  'bluewin.ch',
  'proton.me',
  'protonmail.com',
  'tutanota.com',
  'tuta.io',
  'yandex.com',
  'yandex.ru',
  'mail.ru',
  'zoho.com',
  'gmx.fr',
  'orange.fr',
  'free.fr',
  'laposte.net',
  'libero.it',
  'qq.com',
  '163.com',
];

/** Well-known disposable (throw-away) mail domains; extend with `disposableDomains`. */
export const BUILT_IN_DISPOSABLE = [
  'mailinator.com',
  'guerrillamail.com',
  'guerrillamail.de',
  'sharklasers.com',
  '10minutemail.com',
  '10minutemail.de',
  'temp-mail.org',
  'tempmail.com',
  'trashmail.com',
  'trashmail.de',
  'yopmail.com',
  'getnada.com',
  'dispostable.com',
  'maildrop.cc',
  'throwawaymail.com',
  'wegwerfmail.de',
  'wegwerfemail.de',
  'spambog.com',
  'spamgourmet.com',
  'mailnesia.com',
  'mintemail.com',
  'emailondeck.com',
  'fakeinbox.com',
  'mohmal.com',
  'tempail.com',
  'discard.email',
  'einrot.com',
  'byom.de',
];

export type CriterionResult = 'met' | 'failed' | 'unknown';

/** The verdict on one criterion, with why. */
export interface CriterionVerdict {
  criterion: Criterion;
  result: CriterionResult;
  hard: boolean;
  code: string;
  message: string;
}

/** The qualification of one contact: every configured criterion and the overall outcome. */
export interface QualificationVerdict {
  /**
   * `failed`: a hard criterion failed; `unknown`: data missing; `soft_failed`: only soft
   * criteria failed; `unconfigured`: no firmographic criterion is set, so nobody qualifies.
   */
  status: 'met' | 'failed' | 'soft_failed' | 'unknown' | 'unconfigured';
  criteria: CriterionVerdict[];
  /** The fields whose values would decide the criteria still unknown. */
  missing: string[];
}

/** True when at least one of industry, employees, revenue, country is configured. */
export function hasFirmographicCriteria(config: QualificationConfig): boolean {
  return (
    config.industries.allowed !== undefined ||
    config.industries.excluded.length > 0 ||
    config.minEmployees !== undefined ||
    config.minAnnualRevenue !== undefined ||
    config.countries !== undefined
  );
}

function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

/** Evaluates every configured criterion against the facts. Missing data is unknown, never failed. */
export function evaluateQualification(
  facts: ContactFacts,
  config: QualificationConfig,
): QualificationVerdict {
  const criteria: CriterionVerdict[] = [];
  const isHard = (criterion: Criterion) =>
    (config.hardCriteria as readonly string[]).includes(criterion);
  const verdict = (
    criterion: Criterion,
    result: CriterionResult,
    code: string,
    message: string,
    hard = isHard(criterion),
  ) => criteria.push({ criterion, result, hard, code, message });

  const industry = facts.profile.industry?.value;
  const { allowed, excluded } = config.industries;
  if (allowed !== undefined || excluded.length > 0) {
    const normalized = industry?.toLowerCase();
    if (normalized === undefined)
      verdict('industry', 'unknown', 'industry_unknown', 'The industry is not known yet.');
    else if (excluded.some((value) => value.toLowerCase() === normalized))
      verdict('industry', 'failed', 'industry_excluded', `The industry "${industry}" is excluded.`);
    else if (allowed !== undefined && !allowed.some((value) => value.toLowerCase() === normalized))
      verdict(
        'industry',
        'failed',
        'industry_not_targeted',
        `The industry "${industry}" is not one of the targeted industries.`,
      );
    else verdict('industry', 'met', 'industry_targeted', `The industry "${industry}" is targeted.`);
  }

  if (config.minEmployees !== undefined) {
    const employees = facts.profile.employees?.value;
    if (employees === undefined)
      verdict('employees', 'unknown', 'employees_unknown', 'The company size is not known yet.');
    else if (employees < config.minEmployees)
      verdict(
        'employees',
        'failed',
        'employees_below_minimum',
        `${employees} employees is below the minimum of ${config.minEmployees}.`,
      );
    else
      verdict(
        'employees',
        'met',
        'employees_sufficient',
        `${employees} employees meets the minimum of ${config.minEmployees}.`,
      );
  }

  const minimum = config.minAnnualRevenue;
  if (minimum !== undefined) {
    const revenue = facts.profile.annualRevenue?.value;
    const rate =
      revenue === undefined
        ? undefined
        : revenue.currency === minimum.currency
          ? 1
          : config.exchangeRates[revenue.currency];
    const format = (amount: number, currency: string) =>
      `${amount.toLocaleString('en-US')} ${currency}`;
    if (revenue === undefined)
      verdict(
        'annualRevenue',
        'unknown',
        'revenue_unknown',
        'The annual revenue is not known yet.',
      );
    else if (rate === undefined)
      verdict(
        'annualRevenue',
        'unknown',
        'revenue_currency_unconvertible',
        `The annual revenue is in ${revenue.currency}, and no exchange rate to ${minimum.currency} is configured.`,
      );
    // Compared in cents, so a revenue exactly at the converted minimum is not lost to float error.
    else if (Math.round(revenue.amount * rate * 100) < Math.round(minimum.amount * 100))
      verdict(
        'annualRevenue',
        'failed',
        'revenue_below_minimum',
        `Annual revenue of ${format(revenue.amount, revenue.currency)} is below the minimum of ${format(minimum.amount, minimum.currency)}.`,
      );
    else
      verdict(
        'annualRevenue',
        'met',
        'revenue_sufficient',
        `Annual revenue of ${format(revenue.amount, revenue.currency)} meets the minimum of ${format(minimum.amount, minimum.currency)}.`,
      );
  }

  if (config.countries !== undefined) {
    const country = facts.profile.country?.value;
    if (country === undefined)
      verdict('country', 'unknown', 'country_unknown', 'The country is not known yet.');
    else if (!config.countries.includes(country))
      verdict('country', 'failed', 'country_not_served', `The country ${country} is not served.`);
    else verdict('country', 'met', 'country_served', `The country ${country} is served.`);
  }

  const domain = emailDomain(facts.email);
  const disposable = new Set([...BUILT_IN_DISPOSABLE, ...config.disposableDomains]);
  const freeMail = new Set([...BUILT_IN_FREE_MAIL, ...config.freeMailDomains]);
  if (config.disposableEmail !== 'allow' && disposable.has(domain)) {
    verdict(
      'emailDomain',
      'failed',
      'disposable_email',
      `The address uses the disposable mail domain ${domain}.`,
      config.disposableEmail === 'hard',
    );
  } else if (config.freeMail !== 'allow' && freeMail.has(domain)) {
    verdict(
      'emailDomain',
      'failed',
      'free_mail',
      `The address uses the free-mail domain ${domain}, not a company domain.`,
      config.freeMail === 'hard',
    );
  }

  const failedHard = criteria.some((c) => c.result === 'failed' && c.hard);
  const unknown = criteria.filter((c) => c.result === 'unknown');
  const failedSoft = criteria.some((c) => c.result === 'failed' && !c.hard);
  const configured = hasFirmographicCriteria(config);
  const status = failedHard
    ? 'failed'
    : unknown.length > 0
      ? 'unknown'
      : !configured
        ? 'unconfigured'
        : failedSoft
          ? 'soft_failed'
          : 'met';
  // Only an undecided contact needs data: a disqualified one is decided already. A revenue
  // in a currency with no configured rate is decided by config, not by more contact data.
  const missing =
    status === 'unknown'
      ? unknown.map((c) =>
          c.code === 'revenue_currency_unconvertible'
            ? `exchangeRates.${facts.profile.annualRevenue?.value.currency ?? ''}`
            : CRITERION_FIELD[c.criterion],
        )
      : [];
  return { status, criteria, missing };
}

/** Signals counted as the lead's own activity, for staleness (our own outbound touches are not). */
export const ACTIVITY_SIGNALS: readonly Signal[] = [
  'form_submitted',
  'email_replied',
  'email_opened',
  'email_clicked',
  'call_answered',
  'meeting_held',
  'mail_answered',
  'site_visited',
  'quote_requested',
  'budget_confirmed',
  'consent_given',
  'resubscribed',
];
