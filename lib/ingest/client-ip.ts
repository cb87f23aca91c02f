import type { Context } from 'hono';

/**
 * The client's address, where the platform tells it: API Gateway's source IP on Lambda,
 * the socket on @hono/node-server, else the first `X-Forwarded-For` hop. Used only as
 * consent evidence, never logged.
 */
export function clientIp(c: Context): string | undefined {
  const env = c.env as
    | {
        requestContext?: { http?: { sourceIp?: string } };
        incoming?: { socket?: { remoteAddress?: string } };
      }
    | undefined;
  const fromPlatform = env?.requestContext?.http?.sourceIp ?? env?.incoming?.socket?.remoteAddress;
  if (fromPlatform) return fromPlatform;
  const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
  return forwarded || undefined;
}
