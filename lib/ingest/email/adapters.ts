import { createMailgunAdapter } from './providers/mailgun.ts';
import { createPostmarkAdapter } from './providers/postmark.ts';
import { createSendgridAdapter } from './providers/sendgrid.ts';
import { createSesAdapter } from './providers/ses.ts';
import type { ProvidersConfig } from './providers-config.ts';
import type { EmailProviderAdapter } from './types.ts';

/**
 * Builds the adapter of every configured provider, keyed by its route name. The generic
 * provider is handled by the route itself (it carries domain events, not email signals).
 */
export function createEmailAdapters(config: ProvidersConfig): Map<string, EmailProviderAdapter> {
  const adapters = new Map<string, EmailProviderAdapter>();
  if (config.postmark) adapters.set('postmark', createPostmarkAdapter(config.postmark));
  if (config.mailgun) adapters.set('mailgun', createMailgunAdapter(config.mailgun));
  if (config.sendgrid) adapters.set('sendgrid', createSendgridAdapter(config.sendgrid));
  if (config.ses) adapters.set('ses', createSesAdapter(config.ses));
  return adapters;
}
