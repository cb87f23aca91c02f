import type { CrmValues } from '../domain/crm.ts';
import type {
  Stage,
  StageDirection,
  StageFlags,
  StageReason,
  StageVerdict,
} from '../domain/stage.ts';

/** The event types a subscriber can receive. */
export type WebhookEventType = WebhookMessage['type'];

/** The contact as a subscriber sees it in a webhook. */
export interface WebhookContact {
  id: string;
  email: string;
  name?: string;
  firstName?: string;
  lastName?: string;
  company?: string;
  jobTitle?: string;
}

export interface StageChangedData {
  contact: WebhookContact;
  from: Stage | null;
  to: Stage;
  /** `backward` when the contact moved down the funnel (e.g. disqualified after a correction). */
  direction: StageDirection;
  reasons: StageReason[];
  /** Data still missing to decide qualification. */
  missing: string[];
  qualification: StageVerdict['qualification'];
  flags: StageFlags;
  /** The new stage in each CRM's vocabulary. */
  crm: CrmValues;
  /** Per-contact, increasing with every change: a receiver drops an update older than one it has. */
  sequence: number;
  /** The event that caused the change. */
  causedBy: string;
}

/** A contact was erased on request (GDPR Art. 17): delete it in the CRM too. No personal data. */
export interface ContactErasedData {
  contact: { id: string };
  erasedAt: string;
}

/**
 * The contact may no longer be contacted: a hard bounce, a complaint, an unsubscribe or a
 * withdrawn consent. Sent when `flags.contactable` turns false, whether or not the stage moved.
 */
export interface ContactNotContactableData {
  contact: WebhookContact;
  stage: Stage;
  /** The `not_contactable_*` reasons. */
  reasons: StageReason[];
  flags: StageFlags;
  causedBy: string;
}

/** The JSON body of every webhook: `{type, timestamp, data}` as Standard Webhooks suggests. */
export type WebhookMessage =
  | { type: 'contact.stage_changed'; timestamp: string; data: StageChangedData }
  | { type: 'contact.not_contactable'; timestamp: string; data: ContactNotContactableData }
  | { type: 'contact.erased'; timestamp: string; data: ContactErasedData };
