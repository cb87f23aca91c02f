import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a subscriber misbehaves; every decision is seeded by (seed, webhook-id, attempt). */
export interface SubscriberBehaviour {
  /** Share of requests answered 500 or 503. */
  errorShare: number;
  /** Share of requests held past the sender's timeout (then answered 200, too late). */
  hangShare: number;
  hangMs: number;
  /** Sends `Retry-After: 1` with its 503s. */
  retryAfter?: boolean;
  /**
   * After this many failures of one webhook-id every further attempt succeeds: the failures
   * are bounded below the retry schedule's length, so an exhausted delivery (and a non-empty
   * delivery DLQ) can only come from the pipeline, never from the subscriber alone.
   */
  maxFailuresPerWebhook: number;
}

export type Outcome = 'ok' | 'error' | 'hung';

export interface SubscriberRequest {
  headers: IncomingHttpHeaders;
  body: string;
  outcome: Outcome;
}

export interface Subscriber {
  name: string;
  url: string;
  requests: SubscriberRequest[];
  close(): Promise<void>;
}

function roll(...parts: (string | number)[]): number {
  return createHash('sha256').update(parts.join('\n')).digest().readUInt32LE(0) / 2 ** 32;
}

/** A CRM stand-in on a real HTTP port that answers as `behaviour` says and records every request. */
export async function startSubscriber(
  name: string,
  seed: number,
  behaviour: SubscriberBehaviour,
): Promise<Subscriber> {
  const requests: SubscriberRequest[] = [];
  const attempts = new Map<string, number>();
  const failures = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const webhookId = String(req.headers['webhook-id'] ?? '');
      const attempt = (attempts.get(webhookId) ?? 0) + 1;
      attempts.set(webhookId, attempt);
      const failed = failures.get(webhookId) ?? 0;
      const r = roll(seed, name, webhookId, attempt);
      const outcome: Outcome =
        failed >= behaviour.maxFailuresPerWebhook
          ? 'ok'
          : r < behaviour.errorShare
            ? 'error'
            : r < behaviour.errorShare + behaviour.hangShare
              ? 'hung'
              : 'ok';
      if (outcome !== 'ok') failures.set(webhookId, failed + 1);
      requests.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        outcome,
      });
      if (outcome === 'error') {
        const status = r < behaviour.errorShare / 2 ? 500 : 503;
        res.writeHead(status, status === 503 && behaviour.retryAfter ? { 'retry-after': '1' } : {});
        res.end('unavailable');
      } else if (outcome === 'hung') {
        setTimeout(() => res.end('too late'), behaviour.hangMs).unref();
      } else {
        res.end('ok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    url: `http://127.0.0.1:${port}/hooks/${name}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
