import { z } from 'zod';

/** The message the delivery queue carries: just enough to find the delivery item. */
export const deliveryJobSchema = z.object({
  v: z.literal(1),
  contactId: z.string().min(1),
  subscriptionId: z.string().min(1),
  deliveryId: z.string().min(1),
});
export type DeliveryJob = z.infer<typeof deliveryJobSchema>;
