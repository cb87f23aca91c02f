import type { WebhookMessage } from '../../../lib/delivery/message.ts';
import type { ContactRecord, OutboxEntry } from '../../../lib/store/contact-store.ts';
import type { DeliveryRecord } from '../../../lib/store/delivery-store.ts';

/*
 * The stores write and read these documents whole and look only at their ids, version and
 * outbox keys. So the fixtures are plain JSON shaped like today's domain types and cast to
 * the record types: the storage suite checks the round trip of any document, and does not
 * break each time a domain field is added. Keys of every DynamoDB kind are here: nested maps,
 * empty maps and lists, numbers, booleans, null and non-ASCII text.
 */

const AT = '2025-03-01T10:00:00.000Z';

export function webhookMessage(contactId: string, sequence = 1): WebhookMessage {
  return {
    type: 'contact.stage_changed',
    timestamp: AT,
    data: {
      contact: { id: contactId, email: 'ada@example.com', name: 'Ada Lovelace' },
      from: null,
      to: 'qualified',
      direction: 'initial',
      reasons: [{ code: 'qualified', message: 'Meets every qualification criterion.' }],
      missing: [],
      qualification: 'met',
      flags: { contactable: true, stale: false, cadenceExceeded: false },
      crm: {
        hubspot: { lifecycleStage: 'marketingqualifiedlead', leadStatus: 'OPEN' },
        salesforce: { leadStatus: 'Working - Contacted' },
      },
      sequence,
      causedBy: 'evt_1',
    },
  } as unknown as WebhookMessage;
}

export function outboxEntry(contactId: string, deliveryId: string, sequence = 1): OutboxEntry {
  return { deliveryId, subscriptionId: 'sub_1', message: webhookMessage(contactId, sequence) };
}

export function contactFacts(overrides: Record<string, unknown> = {}): ContactRecord['facts'] {
  return {
    email: 'ada@example.com',
    profile: {
      name: { value: 'Ada Lovelace', at: AT, by: 'evt_1' },
      company: { value: 'Analytical Engines Ltd — Zürich', at: AT, by: 'evt_1' },
      employees: { value: 42, at: AT, by: 'evt_1' },
    },
    counts: { form_submitted: 1 },
    first: { form_submitted: AT },
    last: { form_submitted: AT },
    firstSeenAt: AT,
    lastSeenAt: AT,
    decisionMaker: { value: false, at: AT, by: 'evt_1' },
    outboundTouches: [`${AT}|evt_0`],
    ...overrides,
  } as unknown as ContactRecord['facts'];
}

export function contactRecord(
  contactId: string,
  overrides: Partial<ContactRecord> = {},
): ContactRecord {
  return {
    contactId,
    email: 'ada@example.com',
    facts: contactFacts(),
    stage: 'qualified',
    reasons: [{ code: 'qualified', message: 'Meets every qualification criterion.' }],
    missing: ['industry'],
    qualification: 'unknown',
    flags: { contactable: true, stale: false, cadenceExceeded: false },
    sequence: 1,
    version: 1,
    seen: { evt_1: AT },
    outbox: {},
    updatedAt: AT,
    ...overrides,
  } as unknown as ContactRecord;
}

export function deliveryRecord(
  deliveryId: string,
  overrides: Partial<DeliveryRecord> = {},
): DeliveryRecord {
  return {
    deliveryId,
    subscriptionId: 'sub_1',
    contactId: 'ct_1',
    message: webhookMessage('ct_1', 2),
    status: 'pending',
    attemptCount: 0,
    createdAt: AT,
    ...overrides,
  };
}
