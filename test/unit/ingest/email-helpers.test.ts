import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventEnvelopeSchema } from '../../../lib/domain/events.ts';
import {
  addressList,
  bareAddress,
  messageIds,
  replyTokenFrom,
} from '../../../lib/ingest/email/addresses.ts';
import {
  MAX_EXCERPT_CHARS,
  MAX_PARSED_CHARS,
  replyExcerpt,
  stripQuotedText,
} from '../../../lib/ingest/email/reply-text.ts';
import {
  providerEventId,
  signalsToEnvelopes,
  signalToEnvelope,
} from '../../../lib/ingest/email/to-envelopes.ts';
import type { MailEventSignal, ReplySignal } from '../../../lib/ingest/email/types.ts';

describe('bareAddress', () => {
  it.each([
    ['anna@example.com', 'anna@example.com'],
    ['  Anna.Schmidt@Example.COM ', 'anna.schmidt@example.com'],
    ['Anna Schmidt <anna@example.com>', 'anna@example.com'],
    ['"Schmidt, Anna" <Anna@Example.com>', 'anna@example.com'],
    ['"anna@old.example" <anna@new.example>', 'anna@new.example'],
    ['<reply+ct_abc@in.example.com>', 'reply+ct_abc@in.example.com'],
  ])('%j -> %j', (input, expected) => {
    expect(bareAddress(input)).toBe(expected);
  });

  it.each(['', 'Anna Schmidt', '<>', 'undisclosed-recipients:;'])(
    'finds no address in %j',
    (input) => {
      expect(bareAddress(input)).toBeUndefined();
    },
  );
});

describe('addressList', () => {
  it('splits a header with display names, commas inside quotes and bare addresses', () => {
    expect(
      addressList(
        '"Schmidt, Anna" <Anna@Example.com>, bob@example.org; Max Muster <max@muster.de>,"Müller, Jürgen (Vertrieb)" <j.mueller@example.de>',
      ),
    ).toEqual(['anna@example.com', 'bob@example.org', 'max@muster.de', 'j.mueller@example.de']);
  });

  it('keeps a plus-address intact', () => {
    expect(addressList('Leadstage <reply+ct_0123456789abcdef01234567@in.example.com>')).toEqual([
      'reply+ct_0123456789abcdef01234567@in.example.com',
    ]);
  });

  it.each([undefined, '', '   ', 'undisclosed-recipients:;'])('is empty for %j', (input) => {
    expect(addressList(input)).toEqual([]);
  });
});

describe('replyTokenFrom', () => {
  it('takes the part after the first "+" of the local part, lower-cased', () => {
    expect(replyTokenFrom(['reply+ct_x@in.example.com'])).toBe('ct_x');
    expect(replyTokenFrom([' Reply+CT_ABC@In.Example.com '])).toBe('ct_abc');
    expect(replyTokenFrom(['reply+ct_x+extra@in.example.com'])).toBe('ct_x+extra');
  });

  it('takes the first address that carries a token', () => {
    expect(
      replyTokenFrom([
        'sales@example.com',
        'reply+ct_first@in.example.com',
        'reply+ct_second@in.example.com',
      ]),
    ).toBe('ct_first');
  });

  it.each([
    [[]],
    [['sales@example.com']],
    [['reply+@in.example.com']],
    [['+token@in.example.com']],
    [['reply+token']],
  ])('finds no token in %j', (addresses) => {
    expect(replyTokenFrom(addresses)).toBeUndefined();
  });
});

describe('messageIds', () => {
  it('reads bracketed ids in order, without brackets, lower-cased', () => {
    expect(
      messageIds('<CAF=abc@mail.gmail.com> <0102018f.Aa@eu-west-1.amazonses.com>\r\n <x@y>'),
    ).toEqual(['caf=abc@mail.gmail.com', '0102018f.aa@eu-west-1.amazonses.com', 'x@y']);
  });

  it('reads ids without brackets, split by whitespace or commas', () => {
    expect(messageIds('abc@mail.example.com def@mail.example.com,ghi@x')).toEqual([
      'abc@mail.example.com',
      'def@mail.example.com',
      'ghi@x',
    ]);
  });

  it('reads a single In-Reply-To id with or without brackets', () => {
    expect(messageIds('<Offer-42@Mail.Example.com>')).toEqual(['offer-42@mail.example.com']);
    expect(messageIds('offer-42@mail.example.com')).toEqual(['offer-42@mail.example.com']);
  });

  it.each([undefined, '', 'no ids here'])('is empty for %j', (input) => {
    expect(messageIds(input)).toEqual([]);
  });
});

describe('stripQuotedText', () => {
  const cases: [string, string, string][] = [
    [
      'English "On ... wrote:"',
      [
        'Hi Max,',
        '',
        'Tuesday at 10 works for me. Please send the quote beforehand.',
        '',
        'On Fri, Feb 28, 2025 at 4:12 PM Max Muster <max@vertrieb.example.de> wrote:',
        '> Hi Anna,',
        '> would you have time for a call next week?',
      ].join('\n'),
      'Hi Max,\n\nTuesday at 10 works for me. Please send the quote beforehand.',
    ],
    [
      'German "Am ... schrieb ...:"',
      [
        'Hallo Herr Muster,',
        '',
        'Dienstag um 10 Uhr passt mir.',
        '',
        'Am Fr., 28. Feb. 2025 um 16:12 Uhr schrieb Max Muster <max@vertrieb.example.de>:',
        '> Hallo Frau Schmidt,',
        '> hätten Sie nächste Woche Zeit?',
      ].join('\n'),
      'Hallo Herr Muster,\n\nDienstag um 10 Uhr passt mir.',
    ],
    [
      'German "Am <date> schrieb <name>:" on one short line',
      'Passt.\n\nAm 28.02.2025 um 16:12 schrieb Max Muster:\n> Termin?',
      'Passt.',
    ],
    [
      '"-----Ursprüngliche Nachricht-----"',
      [
        'Bitte senden Sie uns das Angebot bis Freitag.',
        '',
        '-----Ursprüngliche Nachricht-----',
        'Von: Max Muster <max@vertrieb.example.de>',
        'Gesendet: Freitag, 28. Februar 2025 16:12',
        'An: Anna Schmidt <anna@example.de>',
        'Betreff: Ihr Angebot',
        '',
        'Sehr geehrte Frau Schmidt, ...',
      ].join('\n'),
      'Bitte senden Sie uns das Angebot bis Freitag.',
    ],
    [
      'German Outlook "Von: ... Gesendet:" block with no separator line',
      [
        'Ja, wir haben ein Budget von 20.000 EUR freigegeben.',
        '',
        'Von: Max Muster <max@vertrieb.example.de>',
        'Gesendet: Freitag, 28. Februar 2025 16:12',
        'An: Anna Schmidt <anna@example.de>',
        'Betreff: Budget',
        '',
        'Sehr geehrte Frau Schmidt, gibt es ein Budget?',
      ].join('\n'),
      'Ja, wir haben ein Budget von 20.000 EUR freigegeben.',
    ],
    [
      'English Outlook "From: ... Sent:" block with CRLF line ends and no separator',
      [
        'Yes, I am the one who signs off on this.',
        '',
        'From: Max Muster <max@vertrieb.example.de>',
        'Sent: Friday, February 28, 2025 4:12 PM',
        'To: Anna Schmidt <anna@example.de>',
        'Subject: Decision',
        '',
        'Who decides on the purchase?',
      ].join('\r\n'),
      'Yes, I am the one who signs off on this.',
    ],
    [
      'Outlook block with "Datum:" two lines after "Von:"',
      [
        'Danke, passt.',
        'Von: Max Muster <max@vertrieb.example.de>',
        'An: Anna Schmidt <anna@example.de>',
        'Datum: 28.02.2025 16:12',
        'Betreff: Termin',
        '',
        'Termin am Dienstag?',
      ].join('\n'),
      'Danke, passt.',
    ],
    ['">" quoting', 'Sounds good.\n\n> Shall we meet on Tuesday?\n> Max', 'Sounds good.'],
  ];

  it.each(cases)('strips the quoted history of %s', (_label, input, expected) => {
    expect(stripQuotedText(input)).toBe(expected);
  });

  it('keeps a reply that merely mentions "From:" without a header block', () => {
    const text = 'From: our side everything is ready.\nWe can start in April.';
    expect(stripQuotedText(text)).toBe(text);
  });

  it('keeps a reply without quoted history as it is (trimmed)', () => {
    expect(stripQuotedText('\n  Bitte rufen Sie mich morgen an.  \n')).toBe(
      'Bitte rufen Sie mich morgen an.',
    );
  });

  it('looks only at the top of a very long reply (anyone can mail the inbound address)', () => {
    const huge = `Top line.\n${'> '.repeat(50_000)}\n${'a '.repeat(50_000)}`;
    const stripped = stripQuotedText(huge);
    expect(stripped.startsWith('Top line.')).toBe(true);
    expect(stripped.length).toBeLessThanOrEqual(MAX_PARSED_CHARS);
  });

  it('is empty for a reply that is only quoted history', () => {
    expect(stripQuotedText('> Shall we meet on Tuesday?\n> Max')).toBe('');
    expect(stripQuotedText('')).toBe('');
  });
});

describe('replyExcerpt', () => {
  it('keeps a short reply whole, with whitespace collapsed', () => {
    expect(replyExcerpt('  Yes,\n\n please   call me.\t')).toBe('Yes, please call me.');
  });

  it('keeps a reply of exactly the limit whole', () => {
    const text = 'a'.repeat(MAX_EXCERPT_CHARS);
    expect(replyExcerpt(text)).toBe(text);
  });

  it('cuts a long reply at a word boundary and marks the cut', () => {
    const words = 'Vielen Dank für Ihr Angebot, wir melden uns nächste Woche. '.repeat(10);
    const excerpt = replyExcerpt(words);
    expect(excerpt.endsWith('…')).toBe(true);
    const kept = excerpt.slice(0, -1);
    expect(kept.length).toBeLessThanOrEqual(MAX_EXCERPT_CHARS);
    expect(words.startsWith(kept)).toBe(true);
    // A word boundary: the next character of the original is a space.
    expect(words[kept.length]).toBe(' ');
  });

  it('cuts one very long word hard at the limit', () => {
    expect(replyExcerpt('x'.repeat(1000))).toBe(`${'x'.repeat(MAX_EXCERPT_CHARS)}…`);
  });

  it('always fits the domain limit and is a prefix of the collapsed text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 2000 }), (text) => {
        const excerpt = replyExcerpt(text);
        const collapsed = text.replace(/\s+/g, ' ').trim();
        expect(excerpt.length).toBeLessThanOrEqual(MAX_EXCERPT_CHARS + 1);
        // eventEnvelopeSchema allows 500 characters.
        expect(excerpt.length).toBeLessThanOrEqual(500);
        if (collapsed.length <= MAX_EXCERPT_CHARS) expect(excerpt).toBe(collapsed);
        else {
          expect(excerpt.endsWith('…')).toBe(true);
          expect(collapsed.startsWith(excerpt.slice(0, -1))).toBe(true);
          expect(excerpt.length).toBeGreaterThan(MAX_EXCERPT_CHARS / 2);
        }
        expect(excerpt).not.toMatch(/\s\s|^\s|\n/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('providerEventId', () => {
  const delivered: MailEventSignal = {
    type: 'delivered',
    providerEventId: 'pm-evt-1',
    occurredAt: '2025-03-01T10:00:00.000Z',
    recipient: 'anna@example.com',
    messageId: 'abc@mail.example.com',
  };
  const reply: ReplySignal = {
    type: 'reply',
    providerEventId: '<CAF=1@mail.gmail.com>',
    occurredAt: '2025-03-01T10:00:00.000Z',
    from: 'anna@example.com',
    to: ['reply+ct_x@in.example.com'],
    references: [],
  };

  it('is the same for the same provider, kind, provider id and recipient (a retry)', () => {
    expect(providerEventId('postmark', delivered)).toBe(
      providerEventId('postmark', { ...delivered }),
    );
    // Fields that are not part of the identity do not change it.
    expect(providerEventId('postmark', delivered)).toBe(
      providerEventId('postmark', { ...delivered, occurredAt: '2025-03-02T00:00:00.000Z' }),
    );
    expect(providerEventId('postmark', reply)).toBe(
      providerEventId('postmark', { ...reply, strippedText: 'later text' }),
    );
  });

  it('is namespaced by the provider and 32 hex digits long', () => {
    expect(providerEventId('postmark', delivered)).toMatch(/^postmark_[0-9a-f]{32}$/);
    expect(providerEventId('ses', reply)).toMatch(/^ses_[0-9a-f]{32}$/);
  });

  it('differs by provider, signal type, provider id and recipient', () => {
    const ids = new Set([
      providerEventId('postmark', delivered),
      providerEventId('mailgun', delivered),
      providerEventId('postmark', { ...delivered, type: 'opened' }),
      providerEventId('postmark', { ...delivered, providerEventId: 'pm-evt-2' }),
      providerEventId('postmark', { ...delivered, recipient: 'bob@example.com' }),
      providerEventId('postmark', reply),
    ]);
    expect(ids.size).toBe(6);
  });

  it('is deterministic and injective enough over random signals (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('postmark', 'mailgun', 'sendgrid', 'ses'),
        fc.string({ maxLength: 60 }),
        fc.string({ maxLength: 60 }),
        fc.string({ maxLength: 60 }),
        (provider, idA, idB, recipient) => {
          const a = { ...delivered, providerEventId: idA, recipient };
          const b = { ...delivered, providerEventId: idB, recipient };
          expect(providerEventId(provider, a)).toBe(providerEventId(provider, { ...a }));
          if (idA !== idB)
            expect(providerEventId(provider, a)).not.toBe(providerEventId(provider, b));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('signalToEnvelope', () => {
  it('turns a reply into an unresolved reply with a stripped excerpt and the deterministic id', () => {
    const signal: ReplySignal = {
      type: 'reply',
      providerEventId: '<r1@mail.example.de>',
      occurredAt: '2025-03-01T10:00:00.000Z',
      from: 'anna@example.de',
      to: ['reply+ct_0123456789abcdef01234567@in.example.com'],
      replyToken: 'ct_0123456789abcdef01234567',
      inReplyTo: 'offer-42@mail.example.com',
      references: ['offer-42@mail.example.com'],
      strippedText:
        'Gerne.\n\nAm 28.02.2025 um 16:12 schrieb Max Muster <max@example.de>:\n> Angebot?',
    };
    const envelope = signalToEnvelope('postmark', signal);
    expect(envelope).toEqual({
      v: 1,
      reply: {
        id: providerEventId('postmark', signal),
        occurredAt: signal.occurredAt,
        source: 'postmark',
        from: 'anna@example.de',
        replyToken: 'ct_0123456789abcdef01234567',
        inReplyTo: 'offer-42@mail.example.com',
        references: ['offer-42@mail.example.com'],
        excerpt: 'Gerne.',
      },
    });
    expect(eventEnvelopeSchema.safeParse(envelope).success).toBe(true);
  });

  it('counts a signal the domain cannot take as skipped instead of failing the batch', () => {
    const good: MailEventSignal = {
      type: 'bounced',
      providerEventId: 'b-1',
      occurredAt: '2025-03-01T10:00:00.000Z',
      recipient: 'anna@example.com',
    };
    const { envelopes, skipped } = signalsToEnvelopes('postmark', [
      good,
      { ...good, providerEventId: 'b-2', recipient: 'not an address' },
    ]);
    expect(skipped).toBe(1);
    expect(envelopes.map((body) => JSON.parse(body))).toEqual([
      {
        v: 1,
        event: {
          kind: 'email_bounced',
          id: providerEventId('postmark', good),
          occurredAt: good.occurredAt,
          email: 'anna@example.com',
          source: 'postmark',
          // A bounce the provider does not classify counts as hard.
          bounceType: 'hard',
        },
      },
    ]);
  });
});
