import { z } from 'zod';

/**
 * Normalizes an email address for identity: trimmed and lower-cased. The local part is
 * case-sensitive by RFC 5321, but no real mailbox provider treats it so, and treating
 * `Anna@x.de` and `anna@x.de` as two contacts would split one person's history.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * An instant, normalized to UTC ISO-8601 with milliseconds, so that comparing two of them
 * as strings compares them in time (what last-writer-wins and first/last rely on).
 */
export const instantSchema = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value).toISOString());

/** An ISO 4217 currency code. */
export const currencySchema = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'an ISO 4217 code such as EUR')
  .transform((code) => code.toUpperCase());

/** An ISO 3166-1 alpha-2 country code. */
export const countrySchema = z
  .string()
  .regex(/^[A-Za-z]{2}$/, 'an ISO 3166-1 alpha-2 code such as DE')
  .transform((code) => code.toUpperCase());

export const moneySchema = z.object({
  amount: z.number().nonnegative().finite(),
  currency: currencySchema,
});
export type Money = z.infer<typeof moneySchema>;

/** The profile data a source may carry; every field is optional and last-writer-wins. */
export const profileSchema = z.object({
  firstName: z.string().trim().min(1).max(200).optional(),
  lastName: z.string().trim().min(1).max(200).optional(),
  name: z.string().trim().min(1).max(400).optional(),
  company: z.string().trim().min(1).max(400).optional(),
  jobTitle: z.string().trim().min(1).max(200).optional(),
  industry: z.string().trim().min(1).max(200).optional(),
  employees: z.number().int().nonnegative().optional(),
  annualRevenue: moneySchema.optional(),
  country: countrySchema.optional(),
  city: z.string().trim().min(1).max(200).optional(),
  phone: z.string().trim().min(3).max(50).optional(),
});
export type Profile = z.infer<typeof profileSchema>;
export type ProfileField = keyof Profile;
export const PROFILE_FIELDS = Object.keys(profileSchema.shape) as ProfileField[];

/** Consent as evidence: what the person agreed to, when, from where. */
export const consentSchema = z.object({
  text: z.string().min(1).max(2000).optional(),
  version: z.string().min(1).max(100).optional(),
  ip: z.string().max(64).optional(),
  formId: z.string().max(100).optional(),
  /** True once the person confirmed a double opt-in mail. */
  doubleOptInConfirmed: z.boolean().optional(),
});
export type Consent = z.infer<typeof consentSchema>;

/** Campaign attribution carried by a form submission or a visit. */
export const attributionSchema = z.object({
  utmSource: z.string().max(200).optional(),
  utmMedium: z.string().max(200).optional(),
  utmCampaign: z.string().max(200).optional(),
  utmTerm: z.string().max(200).optional(),
  utmContent: z.string().max(200).optional(),
  referrer: z.string().max(2048).optional(),
  landingPage: z.string().max(2048).optional(),
});
export type Attribution = z.infer<typeof attributionSchema>;

/** How an inbound reply was tied to its contact, strongest first. */
export const REPLY_MATCH_METHODS = ['reply_token', 'in_reply_to', 'references', 'sender'] as const;
export type ReplyMatchMethod = (typeof REPLY_MATCH_METHODS)[number];

const eventBase = {
  /** Deterministic: a provider's retry of the same message yields the same id. */
  id: z.string().min(1).max(200),
  /** The event's own time (when it happened at the source), not when we received it. */
  occurredAt: instantSchema,
  /** The contact's normalized email. */
  email: z.email().max(254).transform(normalizeEmail),
  /** Where the event came from, e.g. `form:contact`, `postmark`, `api`. */
  source: z.string().min(1).max(100),
};

/** The Message-ID of the outbound mail an email event is about; later replies thread to it. */
const messageId = z.string().min(1).max(998).optional();

const base = <K extends string>(kind: K) => ({ ...eventBase, kind: z.literal(kind) });

export const formSubmittedSchema = z.object({
  ...base('form_submitted'),
  formId: z.string().min(1).max(100),
  profile: profileSchema.default({}),
  consent: consentSchema.optional(),
  attribution: attributionSchema.optional(),
});

/**
 * The one internal event type every source is normalized into, discriminated on `kind`.
 * Two-way kinds (answers) are `email_replied`, `call_logged` when inbound or reached,
 * `meeting_held` and `mail_answered`; opens, clicks, deliveries and visits never are.
 */
export const leadEventSchema = z.discriminatedUnion('kind', [
  formSubmittedSchema,
  z.object({ ...base('contact_imported'), profile: profileSchema.default({}) }),
  z.object({ ...base('profile_updated'), profile: profileSchema }),
  z.object({
    ...base('email_replied'),
    matchMethod: z.enum(REPLY_MATCH_METHODS),
    /** A short excerpt of the reply with quoted text stripped; never the whole mail. */
    excerpt: z.string().max(500).optional(),
  }),
  z.object({ ...base('email_delivered'), messageId }),
  z.object({ ...base('email_opened'), messageId }),
  z.object({ ...base('email_clicked'), messageId, url: z.string().max(2048).optional() }),
  z.object({ ...base('email_bounced'), messageId, bounceType: z.enum(['hard', 'soft']) }),
  z.object({ ...base('email_complained'), messageId }),
  z.object({ ...base('unsubscribed'), messageId }),
  z.object(base('resubscribed')),
  z.object({
    ...base('call_logged'),
    direction: z.enum(['inbound', 'outbound']),
    /** Whether the person was reached; an inbound call reached us by definition. */
    reached: z.boolean(),
  }),
  z.object(base('meeting_held')),
  z.object(base('mail_answered')),
  z.object({
    ...base('site_visited'),
    url: z.string().max(2048).optional(),
    attribution: attributionSchema.optional(),
  }),
  z.object(base('quote_requested')),
  z.object({ ...base('budget_confirmed'), budget: moneySchema.optional() }),
  z.object({
    ...base('decision_maker_identified'),
    /** False when the decision maker is someone else: this contact is not the one to close with. */
    isDecisionMaker: z.boolean().default(true),
  }),
  z.object({ ...base('consent_given'), consent: consentSchema.default({}) }),
  z.object(base('consent_withdrawn')),
]);
/** A validated event (defaults applied, email and times normalized). */
export type LeadEvent = z.output<typeof leadEventSchema>;
/** An event as a source writes it, before normalization. */
export type LeadEventInput = z.input<typeof leadEventSchema>;
export type LeadEventKind = LeadEvent['kind'];
export type EventOf<K extends LeadEventKind> = Extract<LeadEvent, { kind: K }>;
export const LEAD_EVENT_KINDS = leadEventSchema.options.map(
  (option) => option.shape.kind.value,
) as LeadEventKind[];

/**
 * An inbound reply whose contact is not known yet: the classify step resolves it by reply
 * token, then `In-Reply-To`/`References`, then sender, and applies it as `email_replied`.
 */
export const unresolvedReplySchema = z.object({
  id: z.string().min(1).max(200),
  occurredAt: instantSchema,
  source: z.string().min(1).max(100),
  from: z.email().max(254).transform(normalizeEmail),
  replyToken: z.string().min(1).max(200).optional(),
  inReplyTo: z.string().min(1).max(998).optional(),
  references: z.array(z.string().min(1).max(998)).max(100).default([]),
  excerpt: z.string().max(500).optional(),
});
export type UnresolvedReply = z.output<typeof unresolvedReplySchema>;

const contactIdSchema = z.string().regex(/^ct_[0-9a-f]{24}$/);

/**
 * What travels on the ingest queue: an event, a reply still to be matched, a purge of an
 * erased contact, or a refresh of a contact's time-dependent flags. `v` lets a reader refuse
 * a version it cannot read.
 */
export const eventEnvelopeSchema = z.union([
  z.object({ v: z.literal(1), event: leadEventSchema }),
  z.object({ v: z.literal(1), reply: unresolvedReplySchema }),
  /** A second purge of an erased contact, after projections that raced the erasure are done. */
  z.object({ v: z.literal(1), purge: z.object({ contactId: contactIdSchema }) }),
  /** Derive the contact's flags again as of now: the ageing pass found it gone stale. */
  z.object({ v: z.literal(1), refresh: z.object({ contactId: contactIdSchema }) }),
]);
export type EventEnvelope = z.input<typeof eventEnvelopeSchema>;
export type ParsedEnvelope = z.output<typeof eventEnvelopeSchema>;
