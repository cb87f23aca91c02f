import { z } from 'zod';
import { genericConfigSchema } from './providers/generic.ts';
import { mailgunConfigSchema } from './providers/mailgun.ts';
import { postmarkConfigSchema } from './providers/postmark.ts';
import { sendgridConfigSchema } from './providers/sendgrid.ts';
import { sesConfigSchema } from './providers/ses.ts';

/** The email providers a deployment accepts webhooks from; a provider left out answers 404. */
export const providersConfigSchema = z
  .object({
    postmark: postmarkConfigSchema.optional(),
    mailgun: mailgunConfigSchema.optional(),
    sendgrid: sendgridConfigSchema.optional(),
    ses: sesConfigSchema.optional(),
    generic: genericConfigSchema.optional(),
  })
  .strict();
export type ProvidersConfig = z.output<typeof providersConfigSchema>;
