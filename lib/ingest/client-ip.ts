import type { Context } from 'hono';
import ipaddr from 'ipaddr.js';

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
  const candidate =
    env?.requestContext?.http?.sourceIp ??
    env?.incoming?.socket?.remoteAddress ??
    c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
  // Only a real address is kept: a forged header must neither be stored nor refuse the lead.
  return candidate !== undefined && ipaddr.isValid(candidate)
    ? ipaddr.process(candidate).toString()
    : undefined;
}
