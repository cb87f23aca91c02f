/**
 * `npm run bench`: figures, not pass/fail. Each figure is a ratio against a baseline measured
 * in the same run, so the numbers mean something on any machine.
 *
 * `npm run bench -- <part> ...` runs only the named parts: ingest, signing, domain, classify,
 * pipeline, lambda (all of them when none is named). Sizes: BENCH_ITERATIONS (in-process
 * loops, 20000), BENCH_CLASSIFY_EVENTS (500), BENCH_PIPELINE_EVENTS (300), BENCH_INIT_RUNS (15).
 */
import { createHmac } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Hono } from 'hono';
import { defaultAppConfig } from '../lib/config/app-config.ts';
import { signDelivery } from '../lib/delivery/sign.ts';
import { createApp } from '../lib/ingest/app.ts';
import type { ApiDeps } from '../lib/ingest/deps.ts';
import { createProviderContext } from '../lib/ingest/email/context.ts';
import { formSubmissionSchema } from '../lib/ingest/routes/forms.ts';
import { silentLogger } from '../lib/observability/logger.ts';
import type { MessageQueue } from '../lib/queue/message-queue.ts';
import {
  MemoryContactStore,
  MemoryDeliveryStore,
  MemoryHistoryStore,
} from '../lib/store/memory-stores.ts';

const PARTS = ['ingest', 'signing', 'domain', 'classify', 'pipeline', 'lambda'] as const;
const asked = process.argv.slice(2);
const unknown = asked.filter((part) => !(PARTS as readonly string[]).includes(part));
if (unknown.length > 0) {
  console.error(`unknown part(s): ${unknown.join(', ')}; choose from ${PARTS.join(', ')}`);
  process.exit(2);
}
const wanted = (part: (typeof PARTS)[number]) => asked.length === 0 || asked.includes(part);

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

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000);
console.log(
  `Leadstage bench (Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model.trim()}, load average ${loadavg()[0]?.toFixed(1)}; parts: ${asked.length ? asked.join(', ') : 'all'}; ${iterations} iterations for the in-process loops)\n`,
);

if (wanted('ingest')) {
  const body = JSON.stringify({
    email: 'anna.schmidt@example.com',
    name: 'Anna Schmidt',
    company: 'Schmidt GmbH',
  });
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };
  // The queue is a no-op on both sides: this measures the HTTP layer, not SQS.
  const noQueue: MessageQueue = { send: async () => undefined, sendBatch: async () => undefined };
  // The form route reads the config, the ingest queue, the clock and the logger; the stores
  // are stand-ins (the ones it never calls are empty objects, so a new dependency of the app
  // does not break the bench).
  const app = createApp({
    config: defaultAppConfig,
    ingestQueue: noQueue,
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
    subscriptions: {},
    funnel: {},
  } as unknown as ApiDeps);
  const bare = new Hono().post('/submit', async (c) => {
    const parsed = formSubmissionSchema.safeParse(await c.req.json());
    if (!parsed.success) return c.json({ error: true }, 400);
    await noQueue.send(JSON.stringify(parsed.data));
    return c.json({ eventId: 'x' }, 202);
  });
  console.log('ingest: form route vs a bare Hono route parsing the same body with the same schema');
  const baseline = await timeIt('bare Hono route (baseline)', iterations, () =>
    bare.request('/submit', init),
  );
  const form = await timeIt('POST /v1/forms/contact/submissions', iterations, () =>
    app.request('/v1/forms/contact/submissions', init),
  );
  report(baseline);
  report(form, baseline);
  console.log();
}

if (wanted('signing')) {
  console.log('signing: signDelivery vs one raw HMAC-SHA256 over the same bytes');
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
  console.log();
}

if (wanted('domain')) {
  console.log(
    'classify (domain): merge + derive per event vs parsing the same event from the queue message',
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
  console.log();
}

if (wanted('classify')) {
  const events = Number(process.env.BENCH_CLASSIFY_EVENTS ?? 500);
  console.log(
    `classify (handler): ${events} form submissions of new contacts through the classify handler against dynalite, in batches of 10, vs the same number of bare GetItem + PutItem pairs`,
  );
  const { classifyHandlerBench } = await import('./io-bench.ts');
  const { baseline, handler } = await classifyHandlerBench(events);
  report(baseline);
  report(handler, baseline);
  console.log();
}

if (wanted('pipeline')) {
  const events = Number(process.env.BENCH_PIPELINE_EVENTS ?? 300);
  console.log(
    `pipeline: ${events} form submissions end to end through the local runtime (HTTP -> SQS -> classify -> DynamoDB) vs a script doing each event's unavoidable emulator I/O with no logic (SQS send, receive, delete; DynamoDB get, put)`,
  );
  const { pipelineBench } = await import('./io-bench.ts');
  const { baseline, runtime } = await pipelineBench(events);
  report(baseline);
  report(runtime, baseline);
  console.log();
}

if (wanted('lambda')) {
  const runs = Number(process.env.BENCH_INIT_RUNS ?? 15);
  // Loaded only when asked for: it synthesizes the CDK construct.
  const { measureLambdas, printLambdas } = await import('./lambda.ts');
  printLambdas(await measureLambdas(runs), runs);
}
