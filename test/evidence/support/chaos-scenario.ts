import { Webhook } from 'standardwebhooks';
import {
  type LeadEvent,
  type LeadEventInput,
  leadEventSchema,
} from '../../../lib/domain/events.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { createPrng, type Prng } from './prng.ts';

/** The credentials the scenario's requests are made with; the runtime is configured with the same. */
export interface SourceCredentials {
  apiKey: string;
  postmark: { username: string; password: string };
  genericSecret: string;
}

/** An event without the email and time the scenario fills in. */
type EventBody = WithoutTimeAndEmail<LeadEventInput>;
type WithoutTimeAndEmail<T> = T extends unknown ? Omit<T, 'email' | 'occurredAt'> : never;

export type SourceName = 'form-json' | 'form-urlencoded' | 'postmark' | 'generic' | 'api';

/** One HTTP request as a source sends it. */
export interface SourceRequest {
  path: string;
  init: RequestInit & { headers: Record<string, string>; body: string };
}

/** One distinct event: what the pure domain sees (the oracle's input), and how a source sends it. */
export interface ScenarioEvent {
  key: string;
  source: SourceName;
  /** The event as the domain sees it once the source's payload is normalized. */
  event: LeadEvent;
  /** Builds the request at send time (signatures carry the time); `copy` is 1 for the duplicate. */
  request(credentials: SourceCredentials, copy: number): SourceRequest;
}

export interface ScenarioContact {
  email: string;
  contactId: string;
}

export interface Scenario {
  seed: number;
  contacts: ScenarioContact[];
  events: ScenarioEvent[];
  /** Every request to make, duplicates included, shuffled. */
  sends: { event: ScenarioEvent; copy: number }[];
  duplicates: number;
}

export interface ScenarioOptions {
  seed: number;
  contacts: number;
  /** Events per contact, inclusive range. */
  eventsPerContact: [number, number];
  /** Share of distinct events sent twice. */
  duplicateShare: number;
  /** The run's start: provider and API events happen before it, forms after it. */
  now: Date;
}

const FORM_CONSENT = {
  text: 'Ich bin einverstanden, dass meine Angaben zur Kontaktaufnahme gespeichert werden.',
  version: '2026-11',
};
/** The form the scenario posts to; the runtime's config must define it. */
export const CHAOS_FORM_ID = 'contact';
const INDUSTRIES = ['Manufacturing', 'Software', 'Logistics', 'Retail', 'Gambling'] as const;

interface TrueProfile {
  firstName: string;
  company: string;
  industry: string;
  employees: number;
  country: string;
}

type Temperature = 'cold' | 'warm' | 'hot';

type Kind =
  | 'form'
  | 'pm_delivered'
  | 'pm_opened'
  | 'pm_clicked'
  | 'pm_bounced'
  | 'pm_reply'
  | 'gen_opened'
  | 'gen_clicked'
  | 'gen_reply'
  | 'gen_unsubscribed'
  | 'api_call'
  | 'api_meeting'
  | 'api_quote'
  | 'api_budget'
  | 'api_decision_maker'
  | 'api_visit'
  | 'api_profile'
  | 'api_consent'
  | 'api_mail_answered'
  | 'api_import';

/** How often each kind occurs; cold contacts never answer, hot ones show buying signals. */
function weightsFor(temperature: Temperature): Record<Kind, number> {
  const answers = temperature === 'cold' ? 0 : 1;
  const buying = temperature === 'hot' ? 3 : temperature === 'warm' ? 0.6 : 0.3;
  return {
    form: 10,
    pm_delivered: 12,
    pm_opened: 10,
    pm_clicked: 6,
    pm_bounced: 3,
    pm_reply: 5 * answers,
    gen_opened: 3,
    gen_clicked: 2,
    gen_reply: 3 * answers,
    gen_unsubscribed: 1,
    api_call: 8,
    api_meeting: 2 * answers,
    api_quote: 2 * buying,
    api_budget: 2 * buying,
    api_decision_maker: 2 * buying,
    api_visit: 5,
    api_profile: 5,
    api_consent: 1,
    api_mail_answered: 1 * answers,
    api_import: 2,
  };
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function jsonRequest(path: string, body: unknown, headers: Record<string, string> = {}) {
  return {
    path,
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    },
  };
}

/** Builds the seeded scenario: contacts, their events from every source, duplicates, order. */
export function buildScenario(options: ScenarioOptions): Scenario {
  const prng = createPrng(options.seed);
  const contacts: ScenarioContact[] = [];
  const events: ScenarioEvent[] = [];
  const runStart = options.now.getTime();
  // Every provider and API event gets a time slot of its own, a second apart, before the run;
  // forms get the server's clock during the run. So no two events of a contact share an
  // instant (no tie-break by id, whose ids the oracle would have to guess), and every form is
  // later than every other event, which the oracle mirrors with times after the run's start.
  let slot = 0;
  const pastTime = () => new Date(runStart - 60_000 - ++slot * 1000 - prng.int(0, 999));
  let formCount = 0;
  const formTime = () => new Date(runStart + 3_600_000 + ++formCount);

  for (let index = 0; index < options.contacts; index++) {
    const domainRoll = prng.next();
    const domain =
      domainRoll < 0.08
        ? 'gmail.com'
        : domainRoll < 0.12
          ? 'mailinator.com'
          : `c${index}.example.com`;
    const email = `lead${index}.${prng.hex(4)}@${domain}`;
    const contactId = contactIdFor(email);
    contacts.push({ email, contactId });
    // Some sources write the address with capitals: one contact all the same.
    const written = () => (prng.chance(0.2) ? email.replace(/^./, (c) => c.toUpperCase()) : email);
    const profile: TrueProfile = {
      firstName: prng.pick(['Lena', 'Jonas', 'Mia', 'Paul', 'Emma', 'Felix']),
      company: `Firma ${index} GmbH`,
      industry: prng.chance(0.06)
        ? 'Gambling'
        : prng.pick(INDUSTRIES.filter((i) => i !== 'Gambling')),
      employees: prng.chance(0.8) ? prng.int(20, 2000) : prng.int(1, 19),
      country: prng.chance(0.85) ? prng.pick(['DE', 'AT', 'CH']) : prng.pick(['FR', 'US']),
    };
    const temperature: Temperature = prng.weighted({ cold: 35, warm: 45, hot: 20 });
    const weights = weightsFor(temperature);
    const count = prng.int(options.eventsPerContact[0], options.eventsPerContact[1]);
    /** Outbound Postmark message ids of this contact, for replies to thread to. */
    const sentMessages: string[] = [];

    for (let n = 0; n < count; n++) {
      const kind = prng.weighted(weights);
      const key = `c${index}e${n}`;
      const id = `chaos-${options.seed}-${key}`;
      const at = kind === 'form' ? formTime() : pastTime();
      const occurredAt = at.toISOString();
      const domainEvent = (input: EventBody) =>
        leadEventSchema.parse({ ...input, email, occurredAt } as LeadEventInput);
      events.push(
        makeEvent(kind, {
          prng,
          key,
          id,
          email,
          written,
          contactId,
          occurredAt,
          profile,
          sentMessages,
          domainEvent,
        }),
      );
    }
  }

  const duplicated = new Set(
    prng
      .shuffle(events.map((_, i) => i))
      .slice(0, Math.round(events.length * options.duplicateShare)),
  );
  const sends = prng.shuffle(
    events.flatMap((event, i) =>
      duplicated.has(i)
        ? [
            { event, copy: 0 },
            { event, copy: 1 },
          ]
        : [{ event, copy: 0 }],
    ),
  );
  return { seed: options.seed, contacts, events, sends, duplicates: duplicated.size };
}

interface KindContext {
  prng: Prng;
  key: string;
  id: string;
  email: string;
  written: () => string;
  contactId: string;
  occurredAt: string;
  profile: TrueProfile;
  sentMessages: string[];
  domainEvent: (input: EventBody) => LeadEvent;
}

function makeEvent(kind: Kind, ctx: KindContext): ScenarioEvent {
  const { prng, key, id, email, contactId, occurredAt, profile } = ctx;
  const scenarioEvent = (
    source: SourceName,
    event: LeadEvent,
    request: ScenarioEvent['request'],
  ): ScenarioEvent => ({ key, source, event, request });

  const postmark = (payload: Record<string, unknown>) => (credentials: SourceCredentials) =>
    jsonRequest('/v1/webhooks/email/postmark', payload, {
      authorization: basic(credentials.postmark.username, credentials.postmark.password),
    });
  const generic =
    (item: Record<string, unknown>) => (credentials: SourceCredentials, copy: number) => {
      const body = JSON.stringify({ events: [item] });
      // A sender re-sending the same event does so in a new webhook (a new webhook-id); the
      // same webhook-id again within five minutes is refused as a replay.
      const webhookId = `msg_${id}_${copy}`;
      const now = new Date();
      return {
        path: '/v1/webhooks/email/generic',
        init: {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': webhookId,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': new Webhook(credentials.genericSecret).sign(webhookId, now, body),
          },
          body,
        },
      };
    };
  const api = (item: Record<string, unknown>) => {
    const written = ctx.written();
    return (credentials: SourceCredentials) =>
      jsonRequest(
        '/v1/events',
        { events: [{ id, occurredAt, email: written, ...item }] },
        { authorization: `Bearer ${credentials.apiKey}` },
      );
  };
  const messageId = () => {
    const value = `${prng.hex(8)}-${prng.hex(4)}-${prng.hex(4)}-${prng.hex(12)}`;
    ctx.sentMessages.push(value);
    return value;
  };
  const outbound = (recordType: string, extra: Record<string, unknown> = {}) => {
    const mid =
      recordType === 'Delivery' || ctx.sentMessages.length === 0
        ? messageId()
        : prng.pick(ctx.sentMessages);
    return { mid, payload: { RecordType: recordType, MessageID: mid, Recipient: email, ...extra } };
  };

  switch (kind) {
    case 'form': {
      // A form carries part of the contact's profile, never a conflicting value: forms are
      // stamped by the server's clock, whose order among a contact's forms the oracle
      // cannot know, so their values must agree.
      const fields: Record<string, string> = { email: ctx.written() };
      const profileOut: Record<string, unknown> = {};
      if (prng.chance(0.7)) {
        fields.firma = profile.company;
        profileOut.company = profile.company;
      }
      if (prng.chance(0.6)) {
        fields.vorname = profile.firstName;
        profileOut.firstName = profile.firstName;
      }
      if (prng.chance(0.5)) {
        fields.industry = profile.industry;
        profileOut.industry = profile.industry;
      }
      if (prng.chance(0.5)) {
        fields.employees = String(profile.employees);
        profileOut.employees = profile.employees;
      }
      if (prng.chance(0.5)) {
        fields.land = profile.country.toLowerCase();
        profileOut.country = profile.country;
      }
      const consent = prng.chance(0.6);
      if (consent) fields.consent = 'on';
      if (prng.chance(0.3)) fields.utm_source = 'newsletter';
      const event = ctx.domainEvent({
        kind: 'form_submitted',
        id: `form_${id}`,
        source: `form:${CHAOS_FORM_ID}`,
        formId: CHAOS_FORM_ID,
        profile: profileOut,
        ...(consent ? { consent: { ...FORM_CONSENT, formId: CHAOS_FORM_ID } } : {}),
      } as EventBody);
      const urlencoded = prng.chance(0.5);
      const path = `/v1/forms/${CHAOS_FORM_ID}/submissions`;
      return scenarioEvent(urlencoded ? 'form-urlencoded' : 'form-json', event, () =>
        urlencoded
          ? {
              path,
              init: {
                method: 'POST',
                headers: {
                  'content-type': 'application/x-www-form-urlencoded',
                  'idempotency-key': id,
                },
                body: new URLSearchParams(fields).toString(),
              },
            }
          : jsonRequest(path, fields, { 'idempotency-key': id }),
      );
    }
    case 'pm_delivered': {
      const { mid, payload } = outbound('Delivery', { DeliveredAt: occurredAt });
      return scenarioEvent(
        'postmark',
        ctx.domainEvent({
          kind: 'email_delivered',
          id,
          source: 'postmark',
          messageId: `${mid}@mtasv.net`,
        }),
        postmark(payload),
      );
    }
    case 'pm_opened': {
      const { mid, payload } = outbound('Open', { ReceivedAt: occurredAt });
      return scenarioEvent(
        'postmark',
        ctx.domainEvent({
          kind: 'email_opened',
          id,
          source: 'postmark',
          messageId: `${mid}@mtasv.net`,
        }),
        postmark(payload),
      );
    }
    case 'pm_clicked': {
      const link = `https://www.example.com/pricing?c=${key}`;
      const { mid, payload } = outbound('Click', { ReceivedAt: occurredAt, OriginalLink: link });
      return scenarioEvent(
        'postmark',
        ctx.domainEvent({
          kind: 'email_clicked',
          id,
          source: 'postmark',
          messageId: `${mid}@mtasv.net`,
          url: link,
        }),
        postmark(payload),
      );
    }
    case 'pm_bounced': {
      const hard = prng.chance(0.3);
      const mid = ctx.sentMessages.length > 0 ? prng.pick(ctx.sentMessages) : messageId();
      const payload = {
        RecordType: 'Bounce',
        ID: prng.int(1_000_000, 9_000_000_000),
        Type: hard ? 'HardBounce' : 'SoftBounce',
        TypeCode: hard ? 1 : 4096,
        Email: email,
        BouncedAt: occurredAt,
        MessageID: mid,
        Inactive: false,
      };
      return scenarioEvent(
        'postmark',
        ctx.domainEvent({
          kind: 'email_bounced',
          id,
          source: 'postmark',
          messageId: `${mid}@mtasv.net`,
          bounceType: hard ? 'hard' : 'soft',
        }),
        postmark(payload),
      );
    }
    case 'pm_reply': {
      // Matched by reply token, by the mail it answers, or by sender; all name this contact.
      const how = prng.pick(['token', 'thread', 'sender'] as const);
      const answered = ctx.sentMessages.length > 0 ? prng.pick(ctx.sentMessages) : undefined;
      const payload = {
        MessageID: `${prng.hex(8)}-${prng.hex(4)}-${prng.hex(4)}-${prng.hex(12)}`,
        From: `Kontakt <${email}>`,
        FromFull: { Email: email },
        To: how === 'token' ? `reply+${contactId}@in.example.com` : 'sales@in.example.com',
        OriginalRecipient:
          how === 'token' ? `reply+${contactId}@in.example.com` : 'sales@in.example.com',
        MailboxHash: how === 'token' ? contactId : '',
        Date: occurredAt,
        TextBody: 'Gerne, rufen Sie mich an.\n\n> Hallo, wir haben ein Angebot für Sie',
        Headers:
          how === 'thread' && answered !== undefined
            ? [{ Name: 'In-Reply-To', Value: `<${answered}@mtasv.net>` }]
            : [],
      };
      return scenarioEvent(
        'postmark',
        ctx.domainEvent({ kind: 'email_replied', id, source: 'postmark', matchMethod: 'sender' }),
        postmark(payload),
      );
    }
    case 'gen_opened':
    case 'gen_clicked': {
      const eventKind = kind === 'gen_opened' ? 'email_opened' : 'email_clicked';
      return scenarioEvent(
        'generic',
        ctx.domainEvent({ kind: eventKind, id, source: 'generic' }),
        generic({ kind: eventKind, id, occurredAt, email: ctx.written() }),
      );
    }
    case 'gen_unsubscribed':
      return scenarioEvent(
        'generic',
        ctx.domainEvent({ kind: 'unsubscribed', id, source: 'generic' }),
        generic({ kind: 'unsubscribed', id, occurredAt, email: ctx.written() }),
      );
    case 'gen_reply': {
      const token = prng.chance(0.5);
      return scenarioEvent(
        'generic',
        ctx.domainEvent({ kind: 'email_replied', id, source: 'generic', matchMethod: 'sender' }),
        generic({
          kind: 'reply',
          id,
          occurredAt,
          from: email,
          to: [token ? `reply+${contactId}@in.example.com` : 'sales@in.example.com'],
          ...(token ? { replyToken: contactId } : {}),
          text: 'Klingt gut, schicken Sie mir bitte Unterlagen.',
        }),
      );
    }
    case 'api_call': {
      const direction = prng.chance(0.25) ? 'inbound' : 'outbound';
      const reached = direction === 'inbound' || prng.chance(0.4);
      return apiEvent({ kind: 'call_logged', direction, reached });
    }
    case 'api_meeting':
      return apiEvent({ kind: 'meeting_held' });
    case 'api_quote':
      return apiEvent({ kind: 'quote_requested' });
    case 'api_budget':
      return apiEvent({
        kind: 'budget_confirmed',
        budget: { amount: prng.int(5, 200) * 1000, currency: 'EUR' },
      });
    case 'api_decision_maker':
      return apiEvent({ kind: 'decision_maker_identified', isDecisionMaker: prng.chance(0.75) });
    case 'api_visit':
      return apiEvent({ kind: 'site_visited', url: `https://www.example.com/p/${prng.int(1, 9)}` });
    case 'api_profile': {
      // An update from the CRM, sometimes with stale values: the latest one wins, whatever order.
      const update: Record<string, unknown> = {};
      if (prng.chance(0.5))
        update.industry = prng.chance(0.5) ? profile.industry : prng.pick(INDUSTRIES);
      if (prng.chance(0.5))
        update.employees = prng.chance(0.5) ? profile.employees : prng.int(1, 500);
      if (prng.chance(0.4))
        update.country = prng.chance(0.5) ? profile.country : prng.pick(['DE', 'FR']);
      if (prng.chance(0.3)) update.jobTitle = prng.pick(['CTO', 'Einkauf', 'Geschäftsführung']);
      if (Object.keys(update).length === 0) update.company = profile.company;
      return apiEvent({ kind: 'profile_updated', profile: update });
    }
    case 'api_consent':
      return apiEvent({ kind: 'consent_given', consent: { text: 'Double opt-in confirmed' } });
    case 'api_mail_answered':
      return apiEvent({ kind: 'mail_answered' });
    case 'api_import':
      return apiEvent({
        kind: 'contact_imported',
        profile: { company: profile.company, firstName: profile.firstName },
      });
  }

  function apiEvent(item: Record<string, unknown>): ScenarioEvent {
    return scenarioEvent(
      'api',
      ctx.domainEvent({ ...item, id: `api_${id}`, source: 'api' } as EventBody),
      api(item),
    );
  }
}
