/**
 * Every status a delivery can have, in the order the API documents them. Kept apart from the
 * delivery store so the command line can check `--status` without loading the AWS SDK.
 */
export const DELIVERY_STATUSES = [
  'pending',
  'delivered',
  'failing',
  'exhausted',
  'paused',
  'cancelled',
] as const;

/**
 * `pending`: not tried yet; `failing`: tried, a retry is scheduled; `delivered`: a 2xx came
 * back; `exhausted`: every scheduled attempt failed (also recorded in the delivery DLQ);
 * `paused`: its subscription is disabled (sent again when re-enabled); `cancelled`: its
 * subscription was deleted.
 */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
