import { z } from 'zod';
import { genericConfigSchema } from './providers/generic.ts';

/** The email providers a deployment accepts webhooks from; a provider left out answers 404. */
export const providersConfigSchema = z
  .object({
    generic: genericConfigSchema.optional(),
  })
  .strict();
export type ProvidersConfig = z.output<typeof providersConfigSchema>;
