import { createHash } from 'node:crypto';

/**
 * A delivery's id, sent as `webhook-id`: derived from what it delivers (contact, change,
 * subscription), so a re-run projection cannot fork it, and carrying the contact's id, so
 * the delivery can be found from the id alone (redelivery by id).
 */
export function deliveryIdFor(
  contactId: string,
  change: number | string,
  subscriptionId: string,
): string {
  const digest = createHash('sha256')
    .update(`${contactId}\n${change}\n${subscriptionId}`)
    .digest('hex');
  return `msg_${contactId.replace(/^ct_/, '')}_${digest.slice(0, 12)}`;
}

/** The contact a delivery id belongs to, or undefined for an id not made by deliveryIdFor. */
export function contactIdOfDelivery(deliveryId: string): string | undefined {
  const match = /^msg_([0-9a-f]{24})_[0-9a-f]{12}$/.exec(deliveryId);
  return match?.[1] === undefined ? undefined : `ct_${match[1]}`;
}
