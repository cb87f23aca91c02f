import { readFile } from 'node:fs/promises';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../lib/config/app-config.ts';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.ts';
import { silentLogger } from '../../lib/observability/logger.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { makeTempDir } from '../support/temp-dir.ts';

const API_KEY = 'sources-test-key-0123456789';
const GENERIC_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

interface StageChanged {
  type: string;
  data: {
    contact: { id: string; email: string; company?: string; firstName?: string };
    from: string | null;
    to: string;
    direction: string;
    reasons: { code: string }[];
    sequence: number;
  };
}

describe('every source reaches the subscriber through the local runtime', () => {
  let runtime: LocalRuntime;
  let receiver: Receiver;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let secret: string;

  const verified = (index: number): StageChanged => {
    const request = receiver.received[index];
    if (request === undefined) throw new Error(`no request ${index}`);
    return new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    }) as StageChanged;
  };

  beforeAll(async () => {
    dir = await makeTempDir();
    receiver = await startReceiver();
    runtime = await startLocalRuntime({
      dataDir: dir.path,
      port: 0,
      host: '127.0.0.1',
      apiKey: API_KEY,
      config: parseAppConfig({ providers: { generic: { secret: GENERIC_SECRET } } }, 'test'),
      logger: silentLogger,
    });
    const created = await fetch(`${runtime.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url }),
    });
    secret = ((await created.json()) as { secret: string }).secret;
  });

  afterAll(async () => {
    await runtime?.stop();
    await receiver?.close();
    await dir?.remove();
  });

  it('examples/form.html, posted as a browser posts it, redirects and makes a lead', async () => {
    const html = await readFile(new URL('../../examples/form.html', import.meta.url), 'utf8');
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    expect(action).toBe('http://127.0.0.1:3000/v1/forms/contact/submissions');
    const names = [...html.matchAll(/<(?:input|select)[^>]*name="([^"]+)"/g)].map(
      (match) => match[1],
    );
    expect(names).toEqual(
      expect.arrayContaining(['email', 'vorname', 'firma', 'land', 'consent', 'website_url']),
    );
    // What a person types; the honeypot and the script-filled fields stay empty (no JavaScript).
    const typed: Record<string, string> = {
      email: 'Lena.Berg@berg-technik.de',
      vorname: 'Lena',
      firma: 'Berg Technik GmbH',
      land: 'DE',
      consent: 'yes',
    };
    const body = new URLSearchParams(
      names.map((name): [string, string] => [name as string, typed[name as string] ?? '']),
    );
    const response = await fetch(new URL(new URL(action as string).pathname, runtime.url), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      },
      body,
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/v1/forms/contact/thanks');
    const thanks = await fetch(new URL('/v1/forms/contact/thanks', runtime.url));
    expect(await thanks.text()).toContain('Thank you');

    await receiver.waitFor(1);
    const change = verified(0);
    expect(change.data).toMatchObject({
      contact: {
        email: 'lena.berg@berg-technik.de',
        company: 'Berg Technik GmbH',
        firstName: 'Lena',
      },
      from: null,
      to: 'lead',
      direction: 'initial',
    });
  });

  it('a reply through the generic provider, matched by reply token, makes a prospect', async () => {
    const contactId = verified(0).data.contact.id;
    const payload = JSON.stringify({
      kind: 'reply',
      id: 'reply-1',
      occurredAt: new Date().toISOString(),
      from: 'lena.berg@berg-technik.de',
      to: [`reply+${contactId}@in.example.com`],
      replyToken: contactId,
      text: 'Gerne, rufen Sie mich an.\n\nAm 26.11.2026 um 10:00 schrieb Vertrieb <sales@example.com>:\n> Hallo Frau Berg',
    });
    const messageId = 'msg_generic_reply_1';
    const signature = new Webhook(GENERIC_SECRET).sign(messageId, new Date(), payload);
    const response = await fetch(`${runtime.url}/v1/webhooks/email/generic`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': messageId,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': signature,
      },
      body: payload,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 1, skipped: 0 });

    await receiver.waitFor(2);
    const change = verified(1);
    expect(change.data).toMatchObject({
      from: 'lead',
      to: 'prospect',
      direction: 'forward',
      sequence: 2,
    });
    expect(change.data.reasons.map((reason) => reason.code)).toContain('two_way_communication');
  });

  it('sales activity from the API makes the prospect sales-ready', async () => {
    const response = await fetch(`${runtime.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [{ kind: 'quote_requested', id: 'quote-1', email: 'lena.berg@berg-technik.de' }],
      }),
    });
    expect(response.status).toBe(202);
    await receiver.waitFor(3);
    expect(verified(2).data).toMatchObject({ from: 'prospect', to: 'sales_ready', sequence: 3 });
  });
});
