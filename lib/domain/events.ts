import { z } from 'zod';

/**
 * Normalizes an email address for identity: trimmed and lower-cased. The local part is
 * case-sensitive by RFC 5321, but no real mailbox provider treats it so, and treating
 * `Anna@x.de` and `anna@x.de` as two contacts would split one person's history.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A normalized email address: what contact identity is keyed on. */
export const normalizedEmailSchema = z
  .email()
  .max(254)
  .transform((email) => normalizeEmail(email));

const isoTimestamp = z.iso.datetime({ offset: true });

/** The profile data a source may carry; every field is optional and last-writer-wins. */
export const profileSchema = z.object({
  firstName: z.string().max(200).optional(),
  lastName: z.string().max(200).optional(),
  name: z.string().max(400).optional(),
  company: z.string().max(400).optional(),
});
export type Profile = z.infer<typeof profileSchema>;

const eventBase = {
  /** Deterministic: a provider's retry of the same message yields the same id. */
  id: z.string().min(1).max(200),
  /** The event's own time (when it happened at the source), not when we received it. */
  occurredAt: isoTimestamp,
  /** The contact's normalized email. */
  email: z.string().email().max(254),
  /** Where the event came from, e.g. `form:contact` or `postmark`. */
  source: z.string().min(1).max(100),
};

export const formSubmittedSchema = z.object({
  ...eventBase,
  kind: z.literal('form_submitted'),
  formId: z.string().min(1).max(100),
  profile: profileSchema,
});

/**
 * The one internal event type every source is normalized into. A discriminated union on
 * `kind`; the domain issue widens it to every kind the seed names.
 */
export const leadEventSchema = z.discriminatedUnion('kind', [formSubmittedSchema]);
export type LeadEvent = z.infer<typeof leadEventSchema>;
export type LeadEventKind = LeadEvent['kind'];

/** The envelope an event travels in on the ingest queue; `v` lets a reader refuse what it cannot read. */
export const eventEnvelopeSchema = z.object({
  v: z.literal(1),
  event: leadEventSchema,
});
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;
