import type { StageChangedData, WebhookMessage } from '../../lib/delivery/message.ts';
import { crmValuesFor, defaultCrmMapping } from '../../lib/domain/crm.ts';
import { emptyFacts } from '../../lib/domain/facts.ts';
import type { ContactRecord } from '../../lib/store/contact-store.ts';

/** A complete `contact.stage_changed` message for tests that only carry one around. */
export function sampleMessage(
  overrides: Partial<StageChangedData> = {},
): Extract<WebhookMessage, { type: 'contact.stage_changed' }> {
  return {
    type: 'contact.stage_changed',
    timestamp: '2025-03-01T12:00:00.000Z',
    data: {
      contact: { id: 'ct_1', email: 'anna@example.com' },
      from: null,
      to: 'lead',
      direction: 'initial',
      reasons: [
        {
          code: 'left_data',
          message: 'Left their data through a form; communication is one-way so far.',
        },
      ],
      missing: [],
      qualification: 'unconfigured',
      flags: { contactable: true, stale: false, cadenceExceeded: false },
      crm: crmValuesFor('lead', defaultCrmMapping),
      sequence: 1,
      causedBy: 'evt_1',
      ...overrides,
    },
  };
}

/** A contact record with the given version and counts, for store tests. */
export function sampleContact(
  options: {
    contactId?: string;
    email?: string;
    version?: number;
    formSubmissions?: number;
    outboxIds?: string[];
  } = {},
): ContactRecord {
  const email = options.email ?? 'anna@example.com';
  const contactId = options.contactId ?? 'ct_1';
  const version = options.version ?? 1;
  const facts = emptyFacts(email);
  facts.counts = { form_submitted: options.formSubmissions ?? version };
  facts.first = { form_submitted: '2025-01-01T00:00:00.000Z' };
  facts.last = { form_submitted: '2025-01-01T00:00:00.000Z' };
  facts.firstSeenAt = '2025-01-01T00:00:00.000Z';
  facts.lastSeenAt = '2025-01-01T00:00:00.000Z';
  const message = sampleMessage({ contact: { id: contactId, email } });
  return {
    contactId,
    email,
    facts,
    stage: 'lead',
    stageChangedAt: '2025-01-01T00:00:00.000Z',
    reasons: message.data.reasons,
    missing: [],
    qualification: 'unconfigured',
    flags: { contactable: true, stale: false, cadenceExceeded: false },
    sequence: 1,
    version,
    seen: {},
    outbox: Object.fromEntries(
      (options.outboxIds ?? []).map((id) => [
        id,
        { deliveryId: id, subscriptionId: 'sub_1', message },
      ]),
    ),
    updatedAt: '2025-01-01T00:00:00.000Z',
  };
}
