import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/** A new signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The headers that make a webhook verifiable by the `standardwebhooks` and `svix` libraries. */
export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs a delivery per the Standard Webhooks spec: HMAC-SHA256 over
 * `${id}.${timestamp}.${body}` with the base64-decoded secret, sent as `v1,<base64>`.
 * Several secrets (during a rotation) give several space-separated signatures.
 * Uses node:crypto rather than the `standardwebhooks` package: native HMAC, no extra
 * dependency at runtime; the tests verify with that package to prove compatibility.
 */
export function signDelivery(
  delivery: { id: string; timestamp: Date; body: string },
  secrets: readonly string[],
): SignatureHeaders {
  const seconds = Math.floor(delivery.timestamp.getTime() / 1000).toString();
  const signedContent = `${delivery.id}.${seconds}.${delivery.body}`;
  const signatures = secrets.map((secret) => {
    const key = Buffer.from(
      secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
      'base64',
    );
    return `v1,${createHmac('sha256', key).update(signedContent).digest('base64')}`;
  });
  return {
    'webhook-id': delivery.id,
    'webhook-timestamp': seconds,
    'webhook-signature': signatures.join(' '),
  };
}
