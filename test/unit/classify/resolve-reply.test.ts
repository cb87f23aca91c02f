import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { resolveReply } from '../../../lib/classify/resolve-reply.ts';
import type { UnresolvedReply } from '../../../lib/domain/events.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { MemoryContactStore, MemoryMessageIndexStore } from '../../../lib/store/memory-stores.ts';
import type { MessageIndexStore } from '../../../lib/store/message-index-store.ts';
import { testApi } from '../support/api.ts';
import { classifyFixture, formEvent } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

const ANNA = 'anna@example.com';
const BOB = 'bob@example.org';
const SENDER = 'assistant@example.net';
const NOW = new Date('2025-03-01T12:00:00.000Z');

/** Memory stores with two contacts (Anna and Bob) created through the real apply path. */
async function stores() {
  const f = await classifyFixture();
  await applyEvent(formEvent('evt_anna', { email: ANNA }), f.deps);
  await applyEvent(formEvent('evt_bob', { email: BOB }), f.deps);
  return { deps: f.deps, messages: f.deps.messages };
}

function reply(overrides: Partial<UnresolvedReply> = {}): UnresolvedReply {
  return {
    id: 'generic_reply-1',
    occurredAt: '2025-03-01T11:00:00.000Z',
    source: 'generic',
    from: SENDER,
    references: [],
    ...overrides,
  };
}

describe('resolveReply', () => {
  it('matches by the reply token of an existing contact first, whoever sent it', async () => {
    const { deps, messages } = await stores();
    await messages.put('offer-1@mail.example.com', contactIdFor(BOB), NOW);
    const event = await resolveReply(
      reply({
        replyToken: contactIdFor(ANNA),
        inReplyTo: 'offer-1@mail.example.com',
        excerpt: 'Gerne.',
      }),
      deps,
    );
    expect(event).toEqual({
      kind: 'email_replied',
      id: 'generic_reply-1',
      occurredAt: '2025-03-01T11:00:00.000Z',
      source: 'generic',
      email: ANNA,
      matchMethod: 'reply_token',
      excerpt: 'Gerne.',
    });
  });

  it('falls through a token of an unknown contact to In-Reply-To', async () => {
    const { deps, messages } = await stores();
    await messages.put('offer-1@mail.example.com', contactIdFor(BOB), NOW);
    const event = await resolveReply(
      reply({
        replyToken: contactIdFor('nobody@example.com'),
        inReplyTo: 'offer-1@mail.example.com',
      }),
      deps,
    );
    expect(event).toMatchObject({ email: BOB, matchMethod: 'in_reply_to' });
  });

  it.each([
    ['an unknown contact id', () => contactIdFor('nobody@example.com')],
    ['a token that is no contact id', () => 'newsletter'],
    ['a contact id in upper case', () => contactIdFor(ANNA).toUpperCase().replace('CT_', 'ct_x')],
  ])('falls through %s to the sender when nothing else matches', async (_label, token) => {
    const { deps } = await stores();
    const event = await resolveReply(reply({ replyToken: token() }), deps);
    expect(event).toMatchObject({ email: SENDER, matchMethod: 'sender' });
    expect(event).not.toHaveProperty('excerpt');
  });

  it('matches by In-Reply-To of an indexed message, whatever the letter case', async () => {
    const { deps, messages } = await stores();
    await messages.put('Offer-1@Mail.Example.com', contactIdFor(ANNA), NOW);
    const event = await resolveReply(
      reply({ inReplyTo: 'offer-1@mail.example.com', references: ['other@mail.example.com'] }),
      deps,
    );
    expect(event).toMatchObject({ email: ANNA, matchMethod: 'in_reply_to' });
  });

  it('falls through an In-Reply-To that is not indexed to References', async () => {
    const { deps, messages } = await stores();
    await messages.put('intro-1@mail.example.com', contactIdFor(ANNA), NOW);
    const event = await resolveReply(
      reply({ inReplyTo: 'unknown@mail.example.com', references: ['intro-1@mail.example.com'] }),
      deps,
    );
    expect(event).toMatchObject({ email: ANNA, matchMethod: 'references' });
  });

  it('searches References newest first (the last one is the newest)', async () => {
    const { deps, messages } = await stores();
    await messages.put('oldest@mail.example.com', contactIdFor(ANNA), NOW);
    await messages.put('newer@mail.example.com', contactIdFor(BOB), NOW);
    const event = await resolveReply(
      reply({
        references: ['oldest@mail.example.com', 'newer@mail.example.com', 'newest-unknown@x'],
      }),
      deps,
    );
    expect(event).toMatchObject({ email: BOB, matchMethod: 'references' });
  });

  it('skips a message indexed to a contact that no longer exists', async () => {
    const f = await classifyFixture();
    const messages: MessageIndexStore = new MemoryMessageIndexStore();
    const deps = { ...f.deps, contacts: new MemoryContactStore(), messages };
    await messages.put('offer-1@mail.example.com', contactIdFor(ANNA), NOW);
    const event = await resolveReply(
      reply({ inReplyTo: 'offer-1@mail.example.com', references: ['offer-1@mail.example.com'] }),
      deps,
    );
    expect(event).toMatchObject({ email: SENDER, matchMethod: 'sender' });
  });

  it('falls back to the sender', async () => {
    const { deps } = await stores();
    const event = await resolveReply(reply({ from: ANNA }), deps);
    expect(event).toMatchObject({ email: ANNA, matchMethod: 'sender' });
  });
});

describe('the classify handler applies replies to the contact they resolve to', () => {
  it('indexes an email_delivered messageId, then applies a reply with that In-Reply-To to its contact', async () => {
    const f = await classifyFixture();
    const handler = createClassifyHandler(f.deps);
    const delivered = {
      v: 1,
      event: {
        kind: 'email_delivered',
        id: 'generic_d-1',
        occurredAt: '2025-03-01T09:00:00.000Z',
        email: ANNA,
        source: 'generic',
        messageId: 'offer-42@mail.example.com',
      },
    };
    expect((await handler(sqsEvent([JSON.stringify(delivered)]))).batchItemFailures).toEqual([]);
    expect(await f.deps.messages.get('offer-42@mail.example.com')).toBe(contactIdFor(ANNA));

    const answer = {
      v: 1,
      reply: {
        id: 'generic_r-1',
        occurredAt: '2025-03-01T10:00:00.000Z',
        source: 'generic',
        // Sent from another mailbox: only the thread ties it to Anna.
        from: SENDER,
        inReplyTo: 'offer-42@mail.example.com',
        references: [],
        excerpt: 'Ja, gerne.',
      },
    };
    expect((await handler(sqsEvent([JSON.stringify(answer)]))).batchItemFailures).toEqual([]);
    const anna = await f.contacts.get(contactIdFor(ANNA));
    expect(anna?.stage).toBe('prospect');
    expect(anna?.facts.replyMatch).toMatchObject({ value: 'in_reply_to', by: 'generic_r-1' });
    expect(await f.contacts.get(contactIdFor(SENDER))).toBeUndefined();
  });

  it('goes from the generic webhook through the queue to the contact (HTTP in, stage out)', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const api = testApi({ providers: { generic: { secret } } });
    const post = async (id: string, body: unknown) => {
      const payload = JSON.stringify(body);
      const now = new Date();
      const response = await api.app.request('/v1/webhooks/email/generic', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': new Webhook(secret).sign(id, now, payload),
        },
        body: payload,
      });
      expect(response.status).toBe(200);
    };
    await post('msg_1', {
      kind: 'email_delivered',
      id: 'd-1',
      occurredAt: '2025-03-01T09:00:00Z',
      email: 'Anna@Example.com',
      messageId: 'offer-42@mail.example.com',
    });
    await post('msg_2', {
      kind: 'reply',
      id: 'r-1',
      occurredAt: '2025-03-01T10:00:00Z',
      from: SENDER,
      inReplyTo: 'offer-42@mail.example.com',
      text: 'Ja, gerne.\n\nAm 01.03.2025 um 10:00 schrieb Vertrieb <v@example.com>:\n> Angebot?',
    });

    const f = await classifyFixture();
    const handler = createClassifyHandler(f.deps);
    // One batch each, in order: records of one batch are applied concurrently, and a reply
    // arrives long after the delivery report of the mail it answers.
    expect(api.ingestQueue.sent).toHaveLength(2);
    for (const body of api.ingestQueue.sent)
      expect((await handler(sqsEvent([body]))).batchItemFailures).toEqual([]);
    const anna = await f.contacts.get(contactIdFor(ANNA));
    expect(anna?.stage).toBe('prospect');
    expect(anna?.facts.replyMatch?.value).toBe('in_reply_to');
  });
});
