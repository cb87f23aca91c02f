import { z } from 'zod';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, retryScheduleSchema } from '../delivery/retry-schedule.ts';
import { crmMappingSchema, defaultCrmMapping } from '../domain/crm.ts';
import { defaultQualificationConfig, qualificationConfigSchema } from '../domain/qualification.ts';
import { providersConfigSchema } from '../ingest/email/providers-config.ts';

/** The lead fields a form field can be mapped to. */
export const FORM_TARGET_FIELDS = [
  'email',
  'name',
  'firstName',
  'lastName',
  'company',
  'jobTitle',
  'industry',
  'employees',
  'annualRevenue',
  'annualRevenueCurrency',
  'country',
  'city',
  'phone',
  'consent',
] as const;
export type FormTargetField = (typeof FORM_TARGET_FIELDS)[number];

const absoluteUrl = z.url({ protocol: /^https?$/ });
const origin = z
  .url({ protocol: /^https?$/ })
  .refine(
    (value) => new URL(value).origin === value.replace(/\/$/, ''),
    'an origin such as https://www.example.com (no path)',
  )
  .transform((value) => new URL(value).origin);

/** One website form that may post leads to `POST /v1/forms/{formId}/submissions`. */
export const formConfigSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64'),
    name: z.string().min(1).max(200).optional(),
    /** Form field name -> lead field, e.g. {"firma": "company", "vorname": "firstName"}. */
    fields: z.record(z.string().min(1).max(100), z.enum(FORM_TARGET_FIELDS)).default({}),
    /** Lead fields that must be present besides `email`. */
    required: z.array(z.enum(FORM_TARGET_FIELDS)).default([]),
    /** Where a browser goes after a successful submission (303). */
    thankYouUrl: absoluteUrl.optional(),
    /** Where a browser goes after a refused submission (303, with `?error=` and `&field=`). */
    errorUrl: absoluteUrl.optional(),
    /** Origins allowed to post with JavaScript (CORS); a plain HTML form needs none. */
    allowedOrigins: z.array(origin).default([]),
    /** The consent text and version shown next to the checkbox, kept with each consent as evidence. */
    consent: z
      .object({
        text: z.string().min(1).max(2000),
        version: z.string().min(1).max(100),
        /** Consent must be given for the submission to be accepted. */
        required: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** Whether this form sends a double opt-in mail; confirmation arrives later as `consent_given`. */
    doubleOptIn: z.boolean().default(false),
    /** A field humans leave empty (hidden with CSS); filled in means a bot. */
    honeypotField: z.string().min(1).max(100).default('website_url'),
    /**
     * Submissions faster than this after the form was shown are bots. Needs the form to send
     * the time it was shown (field `_started`, epoch milliseconds, set by a script);
     * without that field the check is skipped, so plain HTML forms still work.
     */
    minFillSeconds: z.number().min(0).max(3600).default(3),
    /** Currency of the `annualRevenue` field when the form does not send one. */
    defaultCurrency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .default('EUR'),
  })
  .strict();
export type FormConfig = z.output<typeof formConfigSchema>;

/**
 * The deployment's configuration: its forms, qualification criteria and CRM vocabulary.
 * Parsed once at start-up and passed in; never read from globals.
 */
export const appConfigSchema = z
  .object({
    forms: z
      .array(formConfigSchema)
      .min(1)
      .default([
        formConfigSchema.parse({
          id: 'contact',
          name: 'Contact form',
          consent: {
            text: 'Ich bin einverstanden, dass meine Angaben zur Kontaktaufnahme gespeichert werden.',
            version: '2026-11',
          },
        }),
      ]),
    /** The criteria leads are qualified against, and the sales-ready rule (docs/stages.md). */
    qualification: qualificationConfigSchema.default(defaultQualificationConfig),
    /** Our stages in each CRM's vocabulary, carried in webhooks. */
    crm: crmMappingSchema.default(defaultCrmMapping),
    /** How webhooks are retried (docs/webhooks.md). */
    delivery: z
      .object({
        /** Seconds to wait after each failed attempt; Svix's schedule by default. */
        retryScheduleSeconds: retryScheduleSchema,
      })
      .strict()
      .default({ retryScheduleSeconds: [...DEFAULT_RETRY_SCHEDULE_SECONDS] }),
    /** Email providers posting to /v1/webhooks/email/{provider}, with their credentials (docs/providers.md). */
    providers: providersConfigSchema.default({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.forms.forEach((form, index) => {
      if (seen.has(form.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['forms', index, 'id'],
          message: `duplicate form id "${form.id}"`,
        });
      }
      seen.add(form.id);
    });
  });
export type AppConfig = z.output<typeof appConfigSchema>;

/** The built-in config: one form with id `contact`, so a fresh start needs no file. */
export const defaultAppConfig: AppConfig = appConfigSchema.parse({});

/** A config that failed validation; the message names every bad field by its path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map(
      (issue) => `  - ${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`,
    )
    .join('\n');
}

/**
 * Parses a config document (already JSON-decoded), naming each bad field on failure.
 * @param origin where the document came from, for the error message (a file path or env name)
 */
export function parseAppConfig(document: unknown, origin: string): AppConfig {
  const result = appConfigSchema.safeParse(document);
  if (!result.success) {
    throw new ConfigError(`Invalid config in ${origin}:\n${describeIssues(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/** Parses config JSON text; a syntax error is reported as a ConfigError too. */
export function parseAppConfigJson(text: string, origin: string): AppConfig {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `Invalid config in ${origin}: not valid JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  return parseAppConfig(document, origin);
}
