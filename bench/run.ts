/**
 * `npm run bench`: figures, not pass/fail. Each figure is a ratio against a baseline measured
 * in the same run, so the numbers mean something on any machine.
 */
import { createHmac } from 'node:crypto';
import { Hono } from 'hono';
import { defaultAppConfig } from '../lib/config/app-config.ts';
import { signDelivery } from '../lib/delivery/sign.ts';
import { createApp } from '../lib/ingest/app.ts';
import { createProviderContext } from '../lib/ingest/email/context.ts';
import { formSubmissionSchema } from '../lib/ingest/routes/forms.ts';
import { silentLogger } from '../lib/observability/logger.ts';
import type { MessageQueue } from '../lib/queue/message-queue.ts';
import {
  MemoryContactStore,
  MemoryDeliveryStore,
  MemoryHistoryStore,
} from '../lib/store/memory-stores.ts';
import type { SubscriptionStore } from '../lib/store/subscription-store.ts';

async function timeIt(label: string, iterations: number, run: () => Promise<unknown> | unknown) {
  for (let i = 0; i < Math.min(500, iterations); i++) await run();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await run();
  const ms = performance.now() - started;
  return { label, perSecond: (iterations / ms) * 1000, usPerOp: (ms * 1000) / iterations };
}

function report(
  figure: { label: string; perSecond: number; usPerOp: number },
  baseline?: { perSecond: number },
) {
  const ratio = baseline
    ? `  (${(figure.perSecond / baseline.perSecond).toFixed(2)}x baseline)`
    : '';
  console.log(
    `${figure.label.padEnd(44)} ${figure.perSecond.toFixed(0).padStart(9)} ops/s ${figure.usPerOp.toFixed(1).padStart(8)} us/op${ratio}`,
  );
}

const body = JSON.stringify({
  email: 'anna.schmidt@example.com',
  name: 'Anna Schmidt',
  company: 'Schmidt GmbH',
});
const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };

// The queue is a no-op on both sides: this measures the HTTP layer, not SQS.
const noQueue: MessageQueue = { send: async () => undefined, sendBatch: async () => undefined };
const noSubscriptions = {} as SubscriptionStore;
const app = createApp({
  config: defaultAppConfig,
  ingestQueue: noQueue,
  subscriptions: noSubscriptions,
  contacts: new MemoryContactStore(),
  directory: new MemoryContactStore(),
  history: new MemoryHistoryStore(),
  deliveries: new MemoryDeliveryStore(),
  deliveryQueue: noQueue,
  apiKeyHashes: [],
  allowLocalWebhookTargets: true,
  emailAdapters: new Map(),
  providerContext: createProviderContext(() => new Date()),
  now: () => new Date(),
  logger: silentLogger,
});
const bare = new Hono().post('/submit', async (c) => {
  const parsed = formSubmissionSchema.safeParse(await c.req.json());
  if (!parsed.success) return c.json({ error: true }, 400);
  await noQueue.send(JSON.stringify(parsed.data));
  return c.json({ eventId: 'x' }, 202);
});

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000);
console.log(`Leadstage bench (Node ${process.version}, ${iterations} iterations each)\n`);

console.log('ingest: form route vs a bare Hono route parsing the same body with the same schema');
const baseline = await timeIt('bare Hono route (baseline)', iterations, () =>
  bare.request('/submit', init),
);
const form = await timeIt('POST /v1/forms/contact/submissions', iterations, () =>
  app.request('/v1/forms/contact/submissions', init),
);
report(baseline);
report(form, baseline);

console.log('\nsigning: signDelivery vs one raw HMAC-SHA256 over the same bytes');
const payload = JSON.stringify({
  type: 'contact.stage_changed',
  data: { filler: 'x'.repeat(1500) },
});
const key = Buffer.alloc(32, 7);
const secret = `whsec_${key.toString('base64')}`;
const at = new Date();
const hmac = await timeIt('raw HMAC (baseline)', iterations, () =>
  createHmac('sha256', key)
    .update(`msg_1.${Math.floor(at.getTime() / 1000)}.${payload}`)
    .digest('base64'),
);
const signed = await timeIt('signDelivery', iterations, () =>
  signDelivery({ id: 'msg_1', timestamp: at, body: payload }, [secret]),
);
report(hmac);
report(signed, hmac);

console.log(
  '\nclassify: merge + derive per event vs parsing the same event from the queue message',
);
const { leadEventSchema } = await import('../lib/domain/events.ts');
const { emptyFacts, mergeFacts } = await import('../lib/domain/facts.ts');
const { deriveStage } = await import('../lib/domain/stage.ts');
const { qualificationConfigSchema } = await import('../lib/domain/qualification.ts');
const criteria = qualificationConfigSchema.parse({
  industries: { allowed: ['Maschinenbau'] },
  minEmployees: 50,
  minAnnualRevenue: { amount: 5_000_000, currency: 'EUR' },
  countries: ['DE', 'AT', 'CH'],
});
const history = Array.from({ length: 40 }, (_, i) =>
  leadEventSchema.parse({
    kind: (['email_opened', 'email_clicked', 'site_visited', 'email_delivered'] as const)[i % 4],
    id: `evt_${i}`,
    email: 'anna@schmidt-maschinenbau.de',
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    source: 'bench',
  }),
);
let facts = emptyFacts('anna@schmidt-maschinenbau.de');
for (const event of history) facts = mergeFacts(facts, event);
const envelope = JSON.stringify({
  v: 1,
  event: {
    kind: 'form_submitted',
    id: 'evt_form',
    formId: 'contact',
    email: 'anna@schmidt-maschinenbau.de',
    occurredAt: '2026-02-01T00:00:00.000Z',
    source: 'form:contact',
    profile: { industry: 'Maschinenbau', employees: 120, country: 'DE', company: 'Schmidt GmbH' },
  },
});
const parsedEvent = leadEventSchema.parse(JSON.parse(envelope).event);
const now = new Date('2026-02-01T00:00:00.000Z');
const parse = await timeIt('parse + validate the event (baseline)', iterations, () =>
  leadEventSchema.parse(JSON.parse(envelope).event),
);
const classify = await timeIt('mergeFacts + deriveStage (40 prior events)', iterations, () =>
  deriveStage(mergeFacts(facts, parsedEvent), criteria, now),
);
report(parse);
report(classify, parse);
