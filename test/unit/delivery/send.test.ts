import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_KEPT_RESPONSE_CHARS,
  parseRetryAfter,
  postWebhook,
  SEND_TIMEOUT_MS,
  USER_AGENT,
} from '../../../lib/delivery/send.ts';
import type { Resolver } from '../../../lib/delivery/target-guard.ts';
import { checkWebhookTargetResolved } from '../../../lib/delivery/target-policy.ts';
import { type Recorded, startServer } from '../support/http-server.ts';

type Received = Recorded;

/** A real server on 127.0.0.1 that counts TCP connections as well as requests. */
async function receiver(respond: (request: Received, res: ServerResponse) => void) {
  const handle = await startServer(respond);
  servers.push(handle);
  return handle;
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const answer =
  (status: number, body = `answered ${status}`, headers: Record<string, string> = {}) =>
  (_request: Received, res: ServerResponse) => {
    res.writeHead(status, headers);
    res.end(body);
  };

const fixedNow = new Date('2025-03-01T12:00:00.000Z');
const now = () => fixedNow;

/** Answers each call with the next list of addresses (the last one repeats). */
function resolverOf(...answers: string[][]): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const addresses = answers[Math.min(calls.length, answers.length) - 1] ?? [];
    return addresses.map((address) => ({
      address,
      family: address.includes(':') ? (6 as const) : (4 as const),
    }));
  };
  return Object.assign(resolver, { calls });
}

const webhook = { headers: { 'webhook-id': 'msg_1' }, body: '{"type":"contact.stage_changed"}' };

describe('postWebhook: answers', () => {
  it('succeeds on 200 and sends the body, the caller headers and its own', async () => {
    const server = await receiver(answer(200, 'thanks'));
    const result = await postWebhook({ url: server.url, ...webhook, allowLocal: true }, now);

    expect(result.ok).toBe(true);
    expect(result.attempt).toEqual({
      at: fixedNow.toISOString(),
      statusCode: 200,
      latencyMs: expect.any(Number),
      responseBody: 'thanks',
    });
    expect(result.attempt.latencyMs).toBeGreaterThanOrEqual(0);
    expect(result.retryAfterMs).toBeUndefined();
    expect(server.received).toHaveLength(1);
    const [request] = server.received;
    expect(request).toMatchObject({ method: 'POST', path: '/hooks', body: webhook.body });
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'content-length': String(Buffer.byteLength(webhook.body)),
      'webhook-id': 'msg_1',
    });
  });

  it('keeps the path and the query string', async () => {
    const server = await receiver(answer(204, ''));
    const result = await postWebhook(
      { url: `${server.url}/v2?tenant=a&x=%20y`, ...webhook, allowLocal: true },
      now,
    );
    expect(result).toMatchObject({ ok: true, attempt: { statusCode: 204, responseBody: '' } });
    expect(server.received[0]?.path).toBe('/hooks/v2?tenant=a&x=%20y');
  });

  it('fails on a 3xx and does not follow it', async () => {
    const elsewhere = await receiver(answer(200));
    const server = await receiver(answer(302, 'moved', { location: elsewhere.url }));
    const result = await postWebhook({ url: server.url, ...webhook, allowLocal: true }, now);
    expect(result).toMatchObject({ ok: false, attempt: { statusCode: 302 } });
    expect(server.received).toHaveLength(1);
    expect(elsewhere.connections()).toBe(0);
  });

  it.each([400, 404, 410, 500, 503])(
    'fails on %i and keeps the first 1,000 characters',
    async (status) => {
      const server = await receiver(answer(status, `${'é'.repeat(999)}${'x'.repeat(5_000)}`));
      const result = await postWebhook({ url: server.url, ...webhook, allowLocal: true }, now);
      expect(result.ok).toBe(false);
      expect(result.attempt.statusCode).toBe(status);
      expect(result.attempt.responseBody).toHaveLength(MAX_KEPT_RESPONSE_CHARS);
      expect(result.attempt.responseBody).toBe(`${'é'.repeat(999)}x`);
    },
  );

  it('stops reading a huge body that never ends, without waiting for the timeout', async () => {
    const server = await receiver((_request, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('y'.repeat(256 * 1024));
      // Never ends.
    });
    const started = performance.now();
    const result = await postWebhook(
      { url: server.url, ...webhook, allowLocal: true, timeoutMs: 5_000 },
      now,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(result).toMatchObject({ ok: true, attempt: { statusCode: 200 } });
    expect(result.attempt.responseBody).toBe('y'.repeat(MAX_KEPT_RESPONSE_CHARS));
  });

  it('times out when the receiver never answers', async () => {
    const server = await receiver(() => {
      // Never answer.
    });
    const started = performance.now();
    const result = await postWebhook(
      { url: server.url, ...webhook, allowLocal: true, timeoutMs: 200 },
      now,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(result.ok).toBe(false);
    expect(result.attempt.statusCode).toBeUndefined();
    expect(result.attempt.error).toBe('timed out after 200 ms');
    expect(result.attempt.latencyMs).toBeGreaterThanOrEqual(150);
    expect(result.refused).toBeUndefined();
  });

  it('judges by the status line when the body stalls past the timeout', async () => {
    const server = await receiver((_request, res) => {
      res.writeHead(202);
      res.write('accepted, more to come');
    });
    const result = await postWebhook(
      { url: server.url, ...webhook, allowLocal: true, timeoutMs: 200 },
      now,
    );
    expect(result).toMatchObject({
      ok: true,
      attempt: { statusCode: 202, responseBody: 'accepted, more to come' },
    });
  });

  it('allows 15 s by default', () => {
    expect(SEND_TIMEOUT_MS).toBe(15_000);
  });

  it('fails, with a one-line error and no stack, when the connection is refused', async () => {
    const server = await receiver(answer(200));
    const url = server.url;
    await server.close();
    const result = await postWebhook({ url, ...webhook, allowLocal: true }, now);
    expect(result.ok).toBe(false);
    expect(result.attempt.error).toMatch(/ECONNREFUSED/);
    expect(result.attempt.error).not.toMatch(/\n|\bat /);
    expect(result.refused).toBeUndefined();
  });
});

describe('postWebhook: Retry-After', () => {
  it('returns delta-seconds in milliseconds', async () => {
    const server = await receiver(answer(429, 'slow down', { 'retry-after': '120' }));
    const result = await postWebhook({ url: server.url, ...webhook, allowLocal: true }, now);
    expect(result).toMatchObject({
      ok: false,
      attempt: { statusCode: 429 },
      retryAfterMs: 120_000,
    });
  });

  it('returns an HTTP-date as milliseconds from now', async () => {
    const at = new Date(fixedNow.getTime() + 90_000).toUTCString();
    const server = await receiver(answer(503, 'maintenance', { 'retry-after': at }));
    const result = await postWebhook({ url: server.url, ...webhook, allowLocal: true }, now);
    expect(result).toMatchObject({ ok: false, attempt: { statusCode: 503 }, retryAfterMs: 90_000 });
  });

  it.each([
    ['0', 0],
    [' 5 ', 5_000],
    ['Sat, 01 Mar 2025 12:00:30 GMT', 30_000],
    ['Saturday, 01-Mar-25 12:01:00 GMT', 60_000],
    ['Sat Mar  1 12:00:10 2025', 10_000],
    ['Sat, 01 Mar 2025 11:00:00 GMT', 0],
    ['-5', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('parses %j as %j', (value, expected) => {
    const parsed = parseRetryAfter(value, fixedNow);
    if (expected === undefined) expect(parsed).toBeUndefined();
    else expect(parsed).toBe(expected);
  });
});

describe('postWebhook: the SSRF guard at send', () => {
  it('resolves the host name at connect time and connects to the checked address', async () => {
    const server = await receiver(answer(200));
    const resolver = resolverOf(['127.0.0.1']);
    const result = await postWebhook(
      {
        url: `http://crm.example.test:${server.port}/hooks`,
        ...webhook,
        allowLocal: true,
        resolver,
      },
      now,
    );
    expect(result.ok).toBe(true);
    expect(resolver.calls).toEqual(['crm.example.test']);
    expect(server.received[0]?.headers.host).toBe(`crm.example.test:${server.port}`);
  });

  it.each([
    ['a private address', ['10.0.0.5'], 'private'],
    ['the cloud metadata address', ['169.254.169.254'], 'linkLocal'],
    ['CGNAT', ['100.64.0.1'], 'carrierGradeNat'],
    ['an IPv6 unique-local address', ['fd00::1'], 'uniqueLocal'],
    ['loopback and a private address', ['127.0.0.1', '10.0.0.5'], 'private'],
    ['a private address before loopback', ['192.168.1.2', '127.0.0.1'], 'private'],
  ])(
    'refuses, in local mode too, a host name resolving to %s, without connecting',
    async (_label, addresses, range) => {
      const server = await receiver(answer(200));
      const result = await postWebhook(
        {
          url: `http://crm.example.test:${server.port}/hooks`,
          ...webhook,
          allowLocal: true,
          resolver: resolverOf(addresses),
        },
        now,
      );
      expect(result).toEqual({
        ok: false,
        refused: true,
        attempt: {
          at: fixedNow.toISOString(),
          latencyMs: expect.any(Number),
          error: `target refused: the host name resolves to an address in the ${range} range`,
        },
      });
      expect(server.connections()).toBe(0);
      expect(server.received).toHaveLength(0);
    },
  );

  it.each([['127.0.0.1'], ['::ffff:127.0.0.1'], ['::1']])(
    'refuses in production a host name resolving to loopback %s, without connecting',
    async (address) => {
      const server = await receiver(answer(200));
      const result = await postWebhook(
        {
          url: `https://crm.example.test:${server.port}/hooks`,
          ...webhook,
          resolver: resolverOf([address]),
        },
        now,
      );
      expect(result).toMatchObject({
        ok: false,
        refused: true,
        attempt: {
          error: 'target refused: the host name resolves to an address in the loopback range',
        },
      });
      expect(server.connections()).toBe(0);
    },
  );

  it('defeats DNS rebinding: public at create, loopback at send, refused at send', async () => {
    const server = await receiver(answer(200));
    const url = `https://crm.example.test:${server.port}/hooks`;
    const resolver = resolverOf(['93.184.216.34'], ['127.0.0.1']);

    await expect(
      checkWebhookTargetResolved(url, { allowLocal: false, resolver }),
    ).resolves.toBeUndefined();
    const result = await postWebhook({ url, ...webhook, resolver }, now);

    expect(resolver.calls).toHaveLength(2);
    expect(result).toMatchObject({ ok: false, refused: true });
    expect(result.attempt.error).toBe(
      'target refused: the host name resolves to an address in the loopback range',
    );
    expect(server.connections()).toBe(0);
  });

  it('defeats DNS rebinding to a private address in local mode as well', async () => {
    const url = 'http://crm.example.test:8080/hooks';
    const resolver = resolverOf(['127.0.0.1'], ['10.0.0.5']);
    await expect(
      checkWebhookTargetResolved(url, { allowLocal: true, resolver }),
    ).resolves.toBeUndefined();
    const result = await postWebhook({ url, ...webhook, allowLocal: true, resolver }, now);
    expect(result.attempt.error).toBe(
      'target refused: the host name resolves to an address in the private range',
    );
  });

  it('is production by default: refuses http, loopback literals and localhost', async () => {
    const server = await receiver(answer(200));
    const cases: [string, string][] = [
      [server.url, 'only https URLs are allowed'],
      [`https://127.0.0.1:${server.port}/hooks`, 'addresses in the loopback range are not allowed'],
      [`https://[::1]:${server.port}/hooks`, 'addresses in the loopback range are not allowed'],
      [`https://localhost:${server.port}/hooks`, 'loopback hosts are not allowed'],
      [
        'https://169.254.169.254/latest/meta-data/',
        'addresses in the linkLocal range are not allowed',
      ],
      ['https://[::a00:1]/hooks', 'addresses in the ipv4Compatible range are not allowed'],
    ];
    for (const [url, reason] of cases) {
      const result = await postWebhook({ url, ...webhook }, now);
      expect(result).toMatchObject({
        ok: false,
        refused: true,
        attempt: { error: `target refused: ${reason}` },
      });
    }
    expect(server.connections()).toBe(0);
  });

  it('refuses private literal addresses in local mode', async () => {
    const result = await postWebhook(
      { url: 'http://10.0.0.5:8080/hooks', ...webhook, allowLocal: true },
      now,
    );
    expect(result.attempt.error).toBe(
      'target refused: addresses in the private range are not allowed',
    );
  });

  it('lets a public address through the guard (the attempt then fails on its own)', async () => {
    const resolver = resolverOf(['93.184.216.34']);
    const result = await postWebhook(
      { url: 'https://crm.example.test:9/hooks', ...webhook, resolver, timeoutMs: 300 },
      now,
    );
    expect(resolver.calls).toEqual(['crm.example.test']);
    expect(result.ok).toBe(false);
    expect(result.refused).toBeUndefined();
    expect(result.attempt.error).not.toMatch(/target refused/);
  });

  it('reports a host name that does not resolve as a plain failure', async () => {
    const resolver: Resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND crm.example.test'), {
        code: 'ENOTFOUND',
      });
    };
    const result = await postWebhook(
      { url: 'https://crm.example.test/hooks', ...webhook, resolver },
      now,
    );
    expect(result).toMatchObject({
      ok: false,
      attempt: { error: 'getaddrinfo ENOTFOUND crm.example.test' },
    });
    expect(result.refused).toBeUndefined();
  });
});

describe('postWebhook: slow DNS', () => {
  it('times out while resolving and never connects once the answer comes late', async () => {
    const server = await receiver(answer(200));
    let answered = false;
    const slow: Resolver = () =>
      new Promise((resolve) =>
        setTimeout(() => {
          answered = true;
          resolve([{ address: '127.0.0.1', family: 4 }]);
        }, 300),
      );
    const result = await postWebhook(
      {
        url: `http://crm.example.test:${server.port}/hooks`,
        ...webhook,
        allowLocal: true,
        resolver: slow,
        timeoutMs: 100,
      },
      now,
    );
    expect(result.attempt.error).toBe('timed out after 100 ms');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(answered).toBe(true);
    expect(server.connections()).toBe(0);
  });
});
