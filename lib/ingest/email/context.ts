import { MemoryReplayGuard } from './replay-guard.ts';
import type { ProviderContext } from './types.ts';

const FETCH_TIMEOUT_MS = 5_000;
const MAX_FETCHED_CHARS = 64 * 1024;

/**
 * Fetches a small text document (an SNS signing certificate, a SubscribeURL answer) with a
 * timeout and a size bound. The adapters check the URL's host before they call this.
 */
export async function fetchText(url: string): Promise<string> {
  const response = await fetch(url, {
    redirect: 'error',
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`GET ${new URL(url).host} answered ${response.status}`);
  const text = await response.text();
  if (text.length > MAX_FETCHED_CHARS)
    throw new Error(`GET ${new URL(url).host} answered more than ${MAX_FETCHED_CHARS} characters`);
  return text;
}

/** The context the email adapters get in production: real clock, in-memory replay guard, real fetch. */
export function createProviderContext(now: () => Date): ProviderContext {
  return { now, replayGuard: new MemoryReplayGuard(), fetchText };
}
