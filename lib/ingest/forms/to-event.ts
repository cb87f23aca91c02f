import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { FormConfig, FormTargetField } from '../../config/app-config.ts';
import { type LeadEvent, leadEventSchema, normalizeEmail } from '../../domain/events.ts';
import type { FieldIssue } from '../problem.ts';
import type { FormFields } from './read-body.ts';

/** Field names understood without any mapping (camelCase, snake_case and common German ones). */
const DEFAULT_FIELD_NAMES: Record<string, FormTargetField> = {
  email: 'email',
  'e-mail': 'email',
  name: 'name',
  fullname: 'name',
  firstname: 'firstName',
  first_name: 'firstName',
  vorname: 'firstName',
  lastname: 'lastName',
  last_name: 'lastName',
  nachname: 'lastName',
  company: 'company',
  firma: 'company',
  unternehmen: 'company',
  jobtitle: 'jobTitle',
  job_title: 'jobTitle',
  position: 'jobTitle',
  industry: 'industry',
  branche: 'industry',
  employees: 'employees',
  mitarbeiter: 'employees',
  annualrevenue: 'annualRevenue',
  annual_revenue: 'annualRevenue',
  umsatz: 'annualRevenue',
  annualrevenuecurrency: 'annualRevenueCurrency',
  currency: 'annualRevenueCurrency',
  country: 'country',
  land: 'country',
  city: 'city',
  ort: 'city',
  stadt: 'city',
  phone: 'phone',
  telefon: 'phone',
  consent: 'consent',
  einwilligung: 'consent',
};

const ATTRIBUTION_FIELDS = {
  utm_source: 'utmSource',
  utm_medium: 'utmMedium',
  utm_campaign: 'utmCampaign',
  utm_term: 'utmTerm',
  utm_content: 'utmContent',
} as const;

/** Names the form itself uses for metadata; never profile data. */
export const META_FIELDS = { started: '_started', referrer: '_referrer', page: '_page' } as const;

const optional = (schema: z.ZodType<string>) => schema.optional();
/** The lead fields of a submission, after field-name mapping: what a form's values must look like. */
export const submissionSchema = z.object({
  email: z.string().trim().pipe(z.email('must be an email address').max(254)),
  name: optional(z.string().trim().min(1).max(400)),
  firstName: optional(z.string().trim().min(1).max(200)),
  lastName: optional(z.string().trim().min(1).max(200)),
  company: optional(z.string().trim().min(1).max(400)),
  jobTitle: optional(z.string().trim().min(1).max(200)),
  industry: optional(z.string().trim().min(1).max(200)),
  employees: z
    .string()
    .trim()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .optional(),
  annualRevenue: z
    .string()
    .trim()
    .regex(/^\d{1,15}([.,]\d{1,2})?$/, 'must be a number such as 5000000')
    .transform((value) => Number(value.replace(',', '.')))
    .optional(),
  annualRevenueCurrency: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code such as EUR')
    .optional(),
  country: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{2}$/, 'must be a two-letter country code such as DE')
    .optional(),
  city: optional(z.string().trim().min(1).max(200)),
  phone: optional(z.string().trim().min(3).max(50)),
  consent: z
    .string()
    .trim()
    .transform((value) => ['on', 'true', '1', 'yes', 'ja'].includes(value.toLowerCase()))
    .optional(),
});

/**
 * Everything a form may send under the default names: the lead fields, UTM parameters and
 * the metadata a script may add. Documents the route (OpenAPI); `submissionSchema` validates.
 */
export const formFieldsSchema = submissionSchema.extend({
  utm_source: z.string().optional(),
  utm_medium: z.string().optional(),
  utm_campaign: z.string().optional(),
  utm_term: z.string().optional(),
  utm_content: z.string().optional(),
  _started: z
    .string()
    .optional()
    .meta({ description: 'When the form was shown (epoch ms), for the minimum fill time' }),
  _page: z
    .string()
    .optional()
    .meta({ description: 'The page the form is on (else the Referer header)' }),
  _referrer: z.string().optional().meta({ description: 'document.referrer of that page' }),
});

/** What the route needs to build the event besides the fields. */
export interface SubmissionContext {
  form: FormConfig;
  now: Date;
  idempotencyKey?: string;
  /** The client address, kept as consent evidence only. */
  ip?: string;
  /** The `Referer` header: the page the form was on. */
  refererHeader?: string;
}

export type SubmissionResult =
  | { ok: true; event: LeadEvent }
  | { ok: false; issues: FieldIssue[] }
  | { ok: false; spam: true; reason: 'honeypot' | 'too_fast' };

/**
 * Same key, same event id: a browser's or proxy's retry is then a duplicate the classify
 * step drops. Scoped by form so two forms cannot collide.
 */
export function formEventId(formId: string, idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `form_${randomUUID()}`;
  const digest = createHash('sha256').update(`${formId}\n${idempotencyKey}`).digest('hex');
  return `form_${digest.slice(0, 32)}`;
}

function pointerFor(
  fieldNames: Map<FormTargetField, string>,
  target: PropertyKey | undefined,
): string {
  const name =
    (target !== undefined && fieldNames.get(target as FormTargetField)) || String(target ?? '');
  return name === '' ? '#' : `#/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/**
 * Maps a form's fields onto lead fields (the form's own mapping first, then the names every
 * form understands), validates them, and builds the `form_submitted` event, or says which
 * fields are wrong (pointing at the names the form used), or that it is spam.
 */
export function submissionToEvent(
  fields: FormFields,
  context: SubmissionContext,
): SubmissionResult {
  const { form } = context;
  const honeypot = fields[form.honeypotField];
  if (honeypot !== undefined && honeypot.trim() !== '')
    return { ok: false, spam: true, reason: 'honeypot' };
  const started = Number(fields[META_FIELDS.started]);
  const elapsedMs = context.now.getTime() - started;
  // A time in the future is a visitor's clock running ahead, not a bot (a bot gains nothing
  // from it: it can leave the field out), so only a small positive elapsed time counts.
  if (
    fields[META_FIELDS.started] !== undefined &&
    Number.isFinite(started) &&
    form.minFillSeconds > 0 &&
    elapsedMs >= 0 &&
    elapsedMs < form.minFillSeconds * 1000
  ) {
    return { ok: false, spam: true, reason: 'too_fast' };
  }

  const mapped: Partial<Record<FormTargetField, string>> = {};
  const sourceName = new Map<FormTargetField, string>();
  for (const [name, value] of Object.entries(fields)) {
    const target = form.fields[name] ?? DEFAULT_FIELD_NAMES[name.toLowerCase()];
    if (target === undefined || value.trim() === '' || mapped[target] !== undefined) continue;
    mapped[target] = value;
    sourceName.set(target, name);
  }

  const issues: FieldIssue[] = [];
  for (const required of ['email', ...form.required] as FormTargetField[]) {
    if (mapped[required] === undefined) {
      const name =
        Object.entries(form.fields).find(([, target]) => target === required)?.[0] ?? required;
      issues.push({ pointer: `#/${name}`, detail: 'is required' });
    }
  }
  if (form.consent?.required && mapped.consent === undefined) {
    issues.push({ pointer: pointerFor(sourceName, 'consent'), detail: 'consent is required' });
  }
  const parsed = submissionSchema.safeParse(mapped);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const target = issue.path[0] as FormTargetField | undefined;
      // A missing field was reported as required above, under the form's own name.
      if (target !== undefined && mapped[target] === undefined) continue;
      const pointer = pointerFor(sourceName, target);
      if (!issues.some((known) => known.pointer === pointer))
        issues.push({ pointer, detail: issue.message });
    }
  }
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  const s = parsed.data;
  if (form.consent?.required && s.consent !== true) {
    return {
      ok: false,
      issues: [{ pointer: pointerFor(sourceName, 'consent'), detail: 'consent is required' }],
    };
  }

  const attribution: Record<string, string> = {};
  for (const [field, key] of Object.entries(ATTRIBUTION_FIELDS)) {
    const value = fields[field]?.trim();
    if (value) attribution[key] = value.slice(0, 200);
  }
  const page = fields[META_FIELDS.page] ?? context.refererHeader;
  const referrer = fields[META_FIELDS.referrer];
  if (page) {
    attribution.landingPage = page.slice(0, 2048);
    // A plain HTML form carries no UTM fields, but the page it sits on often does.
    try {
      const query = new URL(page).searchParams;
      for (const [field, key] of Object.entries(ATTRIBUTION_FIELDS)) {
        const value = query.get(field)?.trim();
        if (value && attribution[key] === undefined) attribution[key] = value.slice(0, 200);
      }
    } catch {}
  }
  if (referrer) attribution.referrer = referrer.slice(0, 2048);

  const candidate = {
    kind: 'form_submitted',
    id: formEventId(form.id, context.idempotencyKey),
    occurredAt: context.now.toISOString(),
    email: normalizeEmail(s.email),
    source: `form:${form.id}`,
    formId: form.id,
    profile: {
      name: s.name,
      firstName: s.firstName,
      lastName: s.lastName,
      company: s.company,
      jobTitle: s.jobTitle,
      industry: s.industry,
      employees: s.employees,
      annualRevenue:
        s.annualRevenue === undefined
          ? undefined
          : { amount: s.annualRevenue, currency: s.annualRevenueCurrency ?? form.defaultCurrency },
      country: s.country,
      city: s.city,
      phone: s.phone,
    },
    ...(s.consent === true
      ? {
          consent: {
            text: form.consent?.text,
            version: form.consent?.version,
            ip: context.ip,
            formId: form.id,
            doubleOptInConfirmed: form.doubleOptIn ? false : undefined,
          },
        }
      : {}),
    ...(Object.keys(attribution).length > 0 ? { attribution } : {}),
  };
  const event = leadEventSchema.safeParse(candidate);
  if (!event.success) {
    return {
      ok: false,
      issues: event.error.issues.map((issue) => ({
        pointer: pointerFor(sourceName, issue.path[issue.path.length - 1]),
        detail: issue.message,
      })),
    };
  }
  return { ok: true, event: event.data };
}
