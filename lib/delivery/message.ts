import type { Stage, StageReason } from '../domain/stage.ts';

/** The event types a subscriber can receive. */
export type WebhookEventType = 'contact.stage_changed';

/** The contact as a subscriber sees it in a webhook. */
export interface WebhookContact {
  id: string;
  email: string;
  name?: string;
  company?: string;
}

export interface StageChangedData {
  contact: WebhookContact;
  from: Stage | null;
  to: Stage;
  reasons: StageReason[];
  /** Per-contact, increasing with every change: a receiver drops an update older than one it has. */
  sequence: number;
  /** The event that caused the change. */
  causedBy: string;
}

/** The JSON body of every webhook: `{type, timestamp, data}` as Standard Webhooks suggests. */
export interface WebhookMessage {
  type: WebhookEventType;
  timestamp: string;
  data: StageChangedData;
}
