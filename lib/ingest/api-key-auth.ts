import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { problem } from './problem.ts';

/** The digest under which an API key is accepted; the key itself is never stored. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

/**
 * Accepts `Authorization: Bearer <key>` when the key's SHA-256 matches one of the accepted
 * digests. Digests are compared in constant time, and all of them are always compared.
 */
export function apiKeyAuth(acceptedHashes: readonly string[]): MiddlewareHandler {
  const accepted = acceptedHashes.map((hash) => Buffer.from(hash, 'hex'));
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    let ok = false;
    if (match?.[1] !== undefined) {
      const presented = createHash('sha256').update(match[1]).digest();
      for (const hash of accepted) {
        if (hash.length === presented.length && timingSafeEqual(hash, presented)) ok = true;
      }
    }
    if (!ok) {
      return problem(
        c,
        401,
        {
          type: '/problems/unauthorized',
          title: 'Unauthorized',
          detail: 'Send a valid API key as "Authorization: Bearer <key>".',
        },
        { 'www-authenticate': 'Bearer realm="leadstage"' },
      );
    }
    await next();
  };
}
