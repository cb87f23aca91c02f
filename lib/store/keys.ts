import { createHash } from 'node:crypto';

/**
 * A contact's id is derived from its normalized email, so every event for one address
 * lands on one item without a lookup or a uniqueness race.
 */
export function contactIdFor(normalizedEmail: string): string {
  return `ct_${createHash('sha256').update(normalizedEmail).digest('hex').slice(0, 24)}`;
}

export const keys = {
  contact: (contactId: string) => ({ pk: `CONTACT#${contactId}`, sk: 'CONTACT' }),
  subscription: (subscriptionId: string) => ({
    pk: 'SUBSCRIPTION',
    sk: `SUBSCRIPTION#${subscriptionId}`,
  }),
  subscriptionPartition: 'SUBSCRIPTION',
  message: (messageId: string) => ({ pk: `MESSAGE#${messageId.toLowerCase()}`, sk: 'MESSAGE' }),
  delivery: (subscriptionId: string, deliveryId: string) => ({
    pk: `SUBSCRIPTION#${subscriptionId}`,
    sk: `DELIVERY#${deliveryId}`,
  }),
} as const;
