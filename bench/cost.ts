/**
 * `npm run bench:cost`: what one event costs on AWS, counted, then priced.
 *
 * Runs the local runtime (dynalite and fauxqs in this process, the very pipeline the Lambda
 * functions run) with a UsageMeter, and measures one scenario at a time, each repeated on
 * fresh contacts: AWS requests per event (SDK middleware), DynamoDB read units as the
 * emulator reports them, write units recomputed by AWS's rules (bench/support/aws-capacity.ts:
 * the emulator leaves out index writes), handler time, invocations and log bytes. Prices
 * come from bench/prices-us-east-1.json; the function memory sizes and the SQS event source
 * settings are read off the CDK construct. Re-runnable: nothing here is pinned to today's code.
 *
 * Options: `--repeat N` (default 3) runs per scenario, `--burst N` (default 100) forms for
 * the batching figure, `--verbose` to print the pipeline's log lines, `--skip-probe` to leave
 * out the capacity-rules check against dynalite and DynamoDB Local.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { parseAppConfig } from '../lib/config/app-config.ts';
import { type LocalRuntime, startLocalRuntime } from '../lib/local/runtime.ts';
import type { Logger } from '../lib/observability/logger.ts';
import { UsageMeter } from '../lib/observability/usage-meter.ts';
import { contactIdFor } from '../lib/store/keys.ts';
import { startReceiver } from '../test/support/receiver.ts';
import { makeTempDir } from '../test/support/temp-dir.ts';
import { installWriteLedger, type WriteLedger } from './support/aws-capacity.ts';
import { compareCapacity } from './support/capacity-probe.ts';
import { readDeployedShape } from './support/deployed-shape.ts';

const { values: args } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    burst: { type: 'string', default: '100' },
    /** Also prints the pipeline's log lines (stderr), to see what a scenario did. */
    verbose: { type: 'boolean', default: false },
    /** Skips the capacity check against dynalite and DynamoDB Local (needs Java). */
    'skip-probe': { type: 'boolean', default: false },
  },
});
const REPEAT = Number(args.repeat);
const BURST = Number(args.burst);

interface Prices {
  date: string;
  apiGatewayHttpApiPerMillionRequests: number;
  lambdaPerMillionRequests: number;
  lambdaArm64PerGbSecond: number;
  sqsStandardPerMillionRequests: number;
  dynamodbOnDemandPerMillionWriteRequestUnits: number;
  dynamodbOnDemandPerMillionReadRequestUnits: number;
  cloudwatchLogsIngestionPerGb: number;
  dynamodbProvisionedPerWcuHour: number;
}
const prices = JSON.parse(
  await readFile(new URL('./prices-us-east-1.json', import.meta.url), 'utf8'),
) as Prices;
const AIM_PER_MILLION = 2.5;

const shape = readDeployedShape();
const memoryGb = (name: string) =>
  (shape.functions.find((fn) => fn.name === name)?.memoryMb ?? Number.NaN) / 1024;
const configuredBatch = shape.functions.find((fn) => fn.name === 'classify')?.eventSource;

const ledger = installWriteLedger();
const meter = new UsageMeter();

/** Bytes of JSON log lines the functions would write (the same shape jsonLogger prints). */
let logBytes = 0;
const countingLogger: Logger = Object.fromEntries(
  (['debug', 'info', 'warn', 'error'] as const).map((level) => [
    level,
    (message: string, fields?: Record<string, unknown>) => {
      if (level === 'debug') return;
      const line = JSON.stringify({
        level,
        time: new Date().toISOString(),
        message,
        function: 'Leadstage-ClassifyFunction-AbCdEfGh1234',
        ...fields,
      });
      logBytes += Buffer.byteLength(line) + 1;
      if (args.verbose) process.stderr.write(`${line}\n`);
    },
  ]),
) as unknown as Logger;

interface HandlerStats {
  invocations: number;
  records: number;
  /** Lambda bills each invocation's duration rounded up to the millisecond. */
  billedMs: number;
}
const newStats = (): HandlerStats => ({ invocations: 0, records: 0, billedMs: 0 });
let classifyStats = newStats();
let deliverStats = newStats();
let inFlight = 0;
let lastActivity = performance.now();
type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;
const timed =
  (stats: () => HandlerStats) =>
  (handler: SqsHandler): SqsHandler =>
  async (event) => {
    inFlight += 1;
    if (args.verbose)
      for (const r of event.Records) process.stderr.write(`record: ${r.body.slice(0, 160)}\n`);
    const started = performance.now();
    try {
      return await handler(event);
    } finally {
      const s = stats();
      s.invocations += 1;
      s.records += event.Records.length;
      s.billedMs += Math.ceil(performance.now() - started);
      inFlight -= 1;
      lastActivity = performance.now();
    }
  };

const API_KEY = 'bench-cost-key-0123456789abcdef';
const GENERIC_SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
const dir = await makeTempDir('leadstage-cost-');
const receiver = await startReceiver();
let runtime: LocalRuntime | undefined;
let reader: DynamoDBClient | undefined;

interface Measured {
  name: string;
  events: number;
  apiRequests: number;
  apiBilledMs: number;
  classify: HandlerStats;
  deliver: HandlerStats;
  requests: Record<string, number>;
  readUnits: number;
  emulatorWriteUnits: number;
  writes: WriteLedger;
  logBytes: number;
  webhooks: number;
  /** Whether the write ledger ran (its reads slow writes down: such runs are not timed). */
  ledgerOn: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Idle: no handler running and none for longer than a poller's long-poll wait. */
async function settle(): Promise<void> {
  for (;;) {
    await sleep(100);
    if (inFlight === 0 && performance.now() - lastActivity > 2_500) return;
  }
}

let apiRequests = 0;
let apiBilledMs = 0;
async function post(path: string, body: string, headers: Record<string, string>) {
  const started = performance.now();
  const response = await fetch(`${runtime?.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers,
    body,
  });
  const text = await response.text();
  apiBilledMs += Math.ceil(performance.now() - started);
  apiRequests += 1;
  lastActivity = performance.now();
  if (response.status >= 400) throw new Error(`${path} answered ${response.status}: ${text}`);
  return text;
}

function reset() {
  meter.reset();
  ledger.reset();
  classifyStats = newStats();
  deliverStats = newStats();
  apiRequests = 0;
  apiBilledMs = 0;
  logBytes = 0;
}

async function measure(
  name: string,
  events: number,
  ledgerOn: boolean,
  run: () => Promise<void>,
): Promise<Measured> {
  await settle();
  reset();
  ledger.useReader(ledgerOn ? reader : undefined);
  const webhooksBefore = receiver.received.length;
  await run();
  await settle();
  const usage = meter.snapshot();
  return {
    name,
    events,
    apiRequests,
    apiBilledMs,
    classify: classifyStats,
    deliver: deliverStats,
    requests: usage.requests,
    readUnits: usage.readCapacityUnits,
    emulatorWriteUnits: usage.writeCapacityUnits,
    writes: ledger.snapshot(),
    logBytes,
    webhooks: receiver.received.length - webhooksBefore,
    ledgerOn,
  };
}

const json = { 'content-type': 'application/json' };
const admin = { ...json, authorization: `Bearer ${API_KEY}` };
const submitForm = (email: string) =>
  post(
    '/v1/forms/contact/submissions',
    JSON.stringify({ email, name: 'Anna Schmidt', company: 'Schmidt Maschinenbau GmbH' }),
    json,
  );
let webhookSeq = 0;
function genericWebhook(item: Record<string, unknown>) {
  const payload = JSON.stringify(item);
  const messageId = `msg_bench_${++webhookSeq}`;
  const at = new Date();
  return post('/v1/webhooks/email/generic', payload, {
    ...json,
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(GENERIC_SECRET).sign(messageId, at, payload),
  });
}
const addSubscription = () =>
  post('/v1/subscriptions', JSON.stringify({ url: receiver.url }), admin);

const results: Measured[] = [];
const sum = (list: Measured[], pick: (m: Measured) => number) =>
  list.reduce((total, m) => total + pick(m), 0);

/** The ledger's per-item figures of `subset`, per event of it, times `events`. */
function byItemScaled(subset: Measured[], events: number): WriteLedger['byItem'] {
  const total: WriteLedger['byItem'] = {};
  const subsetEvents = sum(subset, (m) => m.events);
  for (const run of subset)
    for (const [kind, entry] of Object.entries(run.writes.byItem)) {
      const into = total[kind] ?? { writes: 0, tableUnits: 0, indexUnits: 0 };
      total[kind] = into;
      into.writes += (entry.writes / subsetEvents) * events;
      into.tableUnits += (entry.tableUnits / subsetEvents) * events;
      into.indexUnits += (entry.indexUnits / subsetEvents) * events;
    }
  return total;
}

/**
 * Adds up repeated runs of one scenario into one figure over all their events: counts from
 * every run, write units from the runs with the ledger on, handler times from those without
 * it (each scaled to all the events).
 */
function combine(runs: Measured[]): Measured {
  const first = runs[0] as Measured;
  const events = sum(runs, (m) => m.events);
  const scaled = (subset: Measured[], pick: (m: Measured) => number) =>
    subset.length === 0 ? 0 : (sum(subset, pick) / sum(subset, (m) => m.events)) * events;
  const ledgerRuns = runs.filter((m) => m.ledgerOn);
  const untimed = runs.filter((m) => !m.ledgerOn);
  const timedRuns = untimed.length > 0 ? untimed : runs;
  const requests: Record<string, number> = {};
  for (const run of runs)
    for (const [op, n] of Object.entries(run.requests)) requests[op] = (requests[op] ?? 0) + n;
  const stats = (pick: (m: Measured) => HandlerStats): HandlerStats => ({
    invocations: sum(runs, (m) => pick(m).invocations),
    records: sum(runs, (m) => pick(m).records),
    billedMs: scaled(timedRuns, (m) => pick(m).billedMs),
  });
  return {
    name: first.name,
    events,
    apiRequests: sum(runs, (m) => m.apiRequests),
    apiBilledMs: scaled(timedRuns, (m) => m.apiBilledMs),
    classify: stats((m) => m.classify),
    deliver: stats((m) => m.deliver),
    requests,
    readUnits: sum(runs, (m) => m.readUnits),
    emulatorWriteUnits: scaled(ledgerRuns, (m) => m.emulatorWriteUnits),
    writes: {
      tableUnits: scaled(ledgerRuns, (m) => m.writes.tableUnits),
      indexUnits: scaled(ledgerRuns, (m) => m.writes.indexUnits),
      transactionalItems: scaled(ledgerRuns, (m) => m.writes.transactionalItems),
      failedConditionalWrites: scaled(ledgerRuns, (m) => m.writes.failedConditionalWrites),
      byItem: byItemScaled(ledgerRuns, events),
    },
    logBytes: sum(runs, (m) => m.logBytes),
    webhooks: sum(runs, (m) => m.webhooks),
    ledgerOn: ledgerRuns.length > 0,
  };
}

/**
 * A burst's handlers and requests all share this one process, so its wall times say nothing
 * about Lambda, where each invocation has its instance: it is priced with the unloaded
 * scenario's time per record (conservative: a batch shares its invocation's overhead).
 */
function withUnloadedTimes(burst: Measured, alone: Measured): Measured {
  const perRecord = (stats: HandlerStats) => stats.billedMs / Math.max(1, stats.records);
  return {
    ...burst,
    apiBilledMs: (alone.apiBilledMs / alone.apiRequests) * burst.apiRequests,
    classify: { ...burst.classify, billedMs: perRecord(alone.classify) * burst.classify.records },
    deliver: { ...burst.deliver, billedMs: perRecord(alone.deliver) * burst.deliver.records },
  };
}

let gitState = 'unknown';
try {
  const git = (...gitArgs: string[]) =>
    execFileSync('git', gitArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const dirty = git('status', '--porcelain', '--', 'lib', 'functions').split('\n').filter(Boolean);
  gitState = `${git('rev-parse', '--short', 'HEAD')}${dirty.length ? ` + ${dirty.length} uncommitted files in lib/ and functions/` : ''}`;
} catch {
  // Not a git checkout: the figures stand without it.
}

try {
  runtime = await startLocalRuntime({
    dataDir: dir.path,
    port: 0,
    host: '127.0.0.1',
    apiKey: API_KEY,
    config: parseAppConfig({ providers: { generic: { secret: GENERIC_SECRET } } }, 'bench'),
    logger: countingLogger,
    meter,
    // The sweep's cost is fixed per minute, not per event: kept out of the scenarios.
    sweepIntervalMs: 3_600_000,
    intercept: { classify: timed(() => classifyStats), deliver: timed(() => deliverStats) },
  });
  reader = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: runtime.endpoints.dynamo,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await addSubscription();

  // Warm-up (JIT, connections), not measured.
  for (let i = 0; i < 5; i++) await submitForm(`warmup-${i}@bench.example`);

  const emails = Array.from({ length: REPEAT }, (_, i) => `anna.schmidt.${i}@schmidt-bench.de`);
  const runs: Measured[][] = [[], [], [], [], []];
  const [formNew, formRepeat, reply, open, twoSubscribers] = runs as [
    Measured[],
    Measured[],
    Measured[],
    Measured[],
    Measured[],
  ];
  // The first run of each scenario counts write units (the ledger); the others are timed.
  for (const [i, email] of emails.entries()) {
    const ledgerOn = i === 0;
    formNew.push(
      await measure('form, new contact', 1, ledgerOn, () => submitForm(email).then(() => {})),
    );
    formRepeat.push(
      await measure('form, same contact again', 1, ledgerOn, () =>
        submitForm(email).then(() => {}),
      ),
    );
    const contactId = contactIdFor(email);
    reply.push(
      await measure('email reply (generic webhook)', 1, ledgerOn, () =>
        genericWebhook({
          kind: 'reply',
          id: `reply-${contactId}`,
          occurredAt: new Date().toISOString(),
          from: email,
          to: [`reply+${contactId}@in.example.com`],
          replyToken: contactId,
          text: 'Gerne, rufen Sie mich an.\n\n> Hallo Frau Schmidt',
        }).then(() => {}),
      ),
    );
    open.push(
      await measure('email open (generic webhook)', 1, ledgerOn, () =>
        genericWebhook({
          kind: 'email_opened',
          id: `open-${contactId}`,
          email,
          occurredAt: new Date().toISOString(),
          messageId: `<campaign-1.${contactId}@mail.example.com>`,
        }).then(() => {}),
      ),
    );
  }

  // A burst of new contacts, still one subscriber: what batching buys.
  let next = 0;
  const burst = await measure(`form, new contact, burst of ${BURST}`, BURST, true, async () => {
    const worker = async () => {
      while (next < BURST) {
        const i = next++;
        await submitForm(`burst-${i}@burst-bench.de`);
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
  });

  await addSubscription();
  for (const [i, email] of emails.entries()) {
    twoSubscribers.push(
      await measure('stage change, two subscribers', 1, i === 0, () =>
        post(
          '/v1/events',
          JSON.stringify({ events: [{ kind: 'quote_requested', id: `quote-${email}`, email }] }),
          admin,
        ).then(() => {}),
      ),
    );
  }
  for (const list of runs) results.push(combine(list));
  results.push(withUnloadedTimes(burst, results[0] as Measured));
} finally {
  await runtime?.stop();
  reader?.destroy();
  await receiver.close();
  await dir.remove();
}

/** Billed SQS requests: the locally metered ones, except the idle polls (see the notes). */
function sqsRequests(m: Measured): Record<string, number> {
  const billed: Record<string, number> = {};
  for (const [op, n] of Object.entries(m.requests)) {
    if (!op.startsWith('SQS.') || op === 'SQS.ReceiveMessage') continue;
    billed[op.slice(4)] = n;
  }
  // Every handler invocation is one receive that returned messages.
  billed.ReceiveMessage = m.classify.invocations + m.deliver.invocations;
  return billed;
}

function price(m: Measured) {
  const perEvent = (n: number) => n / m.events;
  const sqs = Object.values(sqsRequests(m)).reduce((a, b) => a + b, 0);
  const writeUnits = m.writes.tableUnits + m.writes.indexUnits;
  const invocations = m.apiRequests + m.classify.invocations + m.deliver.invocations;
  const gbSeconds =
    (m.apiBilledMs / 1000) * memoryGb('api') +
    (m.classify.billedMs / 1000) * memoryGb('classify') +
    (m.deliver.billedMs / 1000) * memoryGb('deliver');
  // Lambda's START/END/REPORT lines (~350 bytes an invocation) and one API access log line.
  const platformLogBytes = invocations * 350 + m.apiRequests * 330;
  const million = 1_000_000;
  const dollars = {
    api: perEvent(m.apiRequests) * prices.apiGatewayHttpApiPerMillionRequests,
    lambdaRequests: perEvent(invocations) * prices.lambdaPerMillionRequests,
    lambdaDuration: perEvent(gbSeconds) * prices.lambdaArm64PerGbSecond * million,
    sqs: perEvent(sqs) * prices.sqsStandardPerMillionRequests,
    dynamoWrites: perEvent(writeUnits) * prices.dynamodbOnDemandPerMillionWriteRequestUnits,
    dynamoReads: perEvent(m.readUnits) * prices.dynamodbOnDemandPerMillionReadRequestUnits,
  };
  const total = Object.values(dollars).reduce((a, b) => a + b, 0);
  const logs =
    (perEvent(m.logBytes + platformLogBytes) / 2 ** 30) *
    prices.cloudwatchLogsIngestionPerGb *
    million;
  return { perEvent, sqs, writeUnits, invocations, gbSeconds, dollars, total, logs };
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const usd = (n: number) => `$${n.toFixed(3)}`;
console.log(
  `Leadstage cost per event (Node ${process.version}; prices ${prices.date}, us-east-1, bench/prices-us-east-1.json)`,
);
console.log(
  `Memory: api ${memoryGb('api') * 1024} MB, classify ${memoryGb('classify') * 1024} MB, deliver ${memoryGb('deliver') * 1024} MB; SQS event source batch ${configuredBatch?.batchSize}, window ${configuredBatch?.batchingWindowSeconds} s (infra/leadstage.ts)`,
);
console.log(`Code: ${gitState}; load average ${loadavg()[0]?.toFixed(1)} at the end`);
console.log(
  `Each scenario run ${REPEAT} times on fresh contacts (the first counts write units, the others are timed); figures are per event.\n`,
);

console.log('Requests and units per event');
for (const m of results) {
  const p = price(m);
  const dynamo = Object.entries(m.requests)
    .filter(([op]) => op.startsWith('DynamoDB.'))
    .map(([op, n]) => `${op.slice(9)} ${fmt(p.perEvent(n), 1)}`)
    .join(', ');
  const sqs = Object.entries(sqsRequests(m))
    .map(([op, n]) => `${op} ${fmt(p.perEvent(n), 2)}`)
    .join(', ');
  console.log(`- ${m.name} (${m.webhooks / m.events} webhooks per event)`);
  console.log(
    `    API ${fmt(p.perEvent(m.apiRequests), 2)} request; Lambda invocations: api ${fmt(p.perEvent(m.apiRequests), 2)}, classify ${fmt(p.perEvent(m.classify.invocations), 2)} (batch ${fmt(m.classify.records / Math.max(1, m.classify.invocations), 1)}), deliver ${fmt(p.perEvent(m.deliver.invocations), 2)} (batch ${fmt(m.deliver.records / Math.max(1, m.deliver.invocations), 1)})`,
  );
  console.log(
    `    handler ms (local wall time, billed rounding): api ${fmt(p.perEvent(m.apiBilledMs), 1)}, classify ${fmt(p.perEvent(m.classify.billedMs), 1)}, deliver ${fmt(p.perEvent(m.deliver.billedMs), 1)}; ${fmt(p.perEvent(p.gbSeconds) * 1000, 2)} GB-ms`,
  );
  console.log(`    SQS ${fmt(p.perEvent(p.sqs), 2)} requests: ${sqs}`);
  console.log(`    DynamoDB ${dynamo}`);
  console.log(
    `    DynamoDB units: read ${fmt(p.perEvent(m.readUnits), 1)} RRU (emulator); write ${fmt(p.perEvent(p.writeUnits), 1)} WRU by AWS rules = table ${fmt(p.perEvent(m.writes.tableUnits), 1)} + indexes ${fmt(p.perEvent(m.writes.indexUnits), 1)} (emulator reported ${fmt(p.perEvent(m.emulatorWriteUnits), 1)}: table only)${m.writes.transactionalItems ? `; ${fmt(p.perEvent(m.writes.transactionalItems), 1)} transactional items (2x)` : ''}${m.writes.failedConditionalWrites ? `; ${fmt(p.perEvent(m.writes.failedConditionalWrites), 1)} failed conditional writes` : ''}`,
  );
  const items = Object.entries(m.writes.byItem)
    .sort(([, a], [, b]) => b.tableUnits + b.indexUnits - (a.tableUnits + a.indexUnits))
    .map(
      ([kind, e]) =>
        `${kind} ${fmt(p.perEvent(e.writes), 1)}x = ${fmt(p.perEvent(e.tableUnits), 1)}+${fmt(p.perEvent(e.indexUnits), 1)}`,
    )
    .join(', ');
  console.log(`    writes by item (count = table + index WRU): ${items}`);
  console.log(`    logs ${fmt(p.perEvent(m.logBytes), 0)} bytes of application log lines`);
}

console.log(
  '\n$ per million events (aim: form submissions under $2.50 all-in: API, Lambda, SQS, DynamoDB)',
);
const header = [
  'scenario',
  'API GW',
  'Lambda req',
  'Lambda GB-s',
  'SQS',
  'DDB write',
  'DDB read',
  'total',
  'vs aim',
  '+logs',
];
const widths = [38, 7, 10, 11, 7, 9, 8, 8, 7, 7];
const row = (cells: string[]) =>
  console.log(
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 8) : cell.padStart(widths[i] ?? 8)))
      .join(' '),
  );
row(header);
for (const m of results) {
  const p = price(m);
  row([
    m.name,
    usd(p.dollars.api),
    usd(p.dollars.lambdaRequests),
    usd(p.dollars.lambdaDuration),
    usd(p.dollars.sqs),
    usd(p.dollars.dynamoWrites),
    usd(p.dollars.dynamoReads),
    usd(p.total),
    `${fmt((p.total / AIM_PER_MILLION) * 100, 0)}%`,
    usd(p.logs),
  ]);
}

// Fixed costs, whatever the volume: each SQS event source polls an empty queue too, and the
// sweep runs every minute.
const minutesPerMonth = 30 * 24 * 60;
const idlePollers = 5;
const idleReceivesPerMonth = 2 * idlePollers * (60 / 20) * minutesPerMonth;
const idlePolling = (idleReceivesPerMonth / 1e6) * prices.sqsStandardPerMillionRequests;
const sweep =
  (minutesPerMonth / 1e6) *
    (prices.lambdaPerMillionRequests + 0.5 * prices.dynamodbOnDemandPerMillionReadRequestUnits) +
  minutesPerMonth * 0.05 * memoryGb('sweep') * prices.lambdaArm64PerGbSecond;
console.log('\nFixed costs a month, not per event (estimates):');
console.log(
  `- idle SQS polling by the two event source mappings: ~${(idleReceivesPerMonth / 1e6).toFixed(2)} M empty receives = ${usd(idlePolling)}/month (${idlePollers} pollers per queue at 20 s long polls: AWS Lambda guide, "Configuring scaling behavior for SQS event source mappings": at low traffic Lambda keeps five concurrent batches, and goes down to two only without maximum concurrency, which infra/leadstage.ts sets; the wait time is assumed. Re-check against the queues' NumberOfEmptyReceives)`,
);
console.log(
  `- the sweep every minute: ${minutesPerMonth} invocations, one Query each when nothing is due (0.5 RRU), ~50 ms at ${memoryGb('sweep') * 1024} MB = ${usd(sweep)}/month; EventBridge scheduled rules carry no charge`,
);
console.log(
  `  At 1 M events a month these add ${usd(idlePolling + sweep)} per million events; at 10 M, ${usd((idlePolling + sweep) / 10)}.`,
);

const [formNew] = results;
if (formNew) {
  const p = price(formNew);
  const parts = Object.entries(p.dollars).sort(([, a], [, b]) => b - a);
  console.log(
    `\nForm submission, new contact: ${usd(p.total)} per million = ${fmt((p.total / AIM_PER_MILLION) * 100, 0)}% of the $2.50 aim; largest parts: ${parts
      .slice(0, 3)
      .map(([part, dollars]) => `${part} ${usd(dollars)} (${fmt((dollars / p.total) * 100, 0)}%)`)
      .join(', ')}`,
  );
}
/**
 * What would lower the cost of one scenario, each change alone, estimated from its measured
 * requests and write units (no code is changed to get these).
 */
function whatIf(m: Measured): { change: string; saves: number }[] {
  const p = price(m);
  const perMillion = (units: number, dollarsPerMillion: number) =>
    p.perEvent(units) * dollarsPerMillion;
  const wru = prices.dynamodbOnDemandPerMillionWriteRequestUnits;
  const entries = Object.entries(m.writes.byItem);
  const writes = entries.reduce((total, [, e]) => total + e.writes, 0);
  const contact = m.writes.byItem['CONTACT/CONTACT'];
  const counterEntries = entries.filter(
    ([kind]) => kind.startsWith('FUNNEL/') || kind === 'CONTACT/COUNTED',
  );
  const counterUnits = counterEntries.reduce((t, [, e]) => t + e.tableUnits + e.indexUnits, 0);
  const counterWrites = counterEntries.reduce((t, [, e]) => t + e.writes, 0);
  const batched = (n: number, records: number) => Math.max(0, n - records / 10);
  const pollSaving =
    batched(m.classify.invocations, m.classify.records) +
    batched(m.deliver.invocations, m.deliver.records);
  const provisionedPerMillionWru = (prices.dynamodbProvisionedPerWcuHour / 3600 / 0.7) * 1_000_000;
  const changes = [
    {
      change: 'every item written under 1 KB (1 WRU a write; index entries as now)',
      saves: perMillion(m.writes.tableUnits - writes, wru),
    },
    ...(contact && contact.writes > m.events
      ? [
          {
            change: `one write of the contact item per event instead of ${fmt(p.perEvent(contact.writes), 0)} (fold the outbox clear into the next commit)`,
            saves: perMillion(
              ((contact.tableUnits + contact.indexUnits) / contact.writes) *
                (contact.writes - m.events),
              wru,
            ),
          },
        ]
      : []),
    ...(counterWrites > 0
      ? [
          {
            change: `funnel counters as one small ADD per event (now ${fmt(p.perEvent(counterWrites), 0)} writes, ${fmt(p.perEvent(counterUnits), 0)} WRU)`,
            saves: perMillion(counterUnits - m.events, wru),
          },
        ]
      : []),
    {
      change: 'full batches of 10 on both queues (receives, deletes, worker invocations)',
      saves:
        perMillion(2 * pollSaving, prices.sqsStandardPerMillionRequests) +
        perMillion(pollSaving, prices.lambdaPerMillionRequests),
    },
    {
      change: 'a Lambda function URL instead of the HTTP API (loses API Gateway throttling)',
      saves: p.dollars.api,
    },
    {
      change: 'provisioned write capacity at 70% average use, instead of on-demand',
      saves: perMillion(p.writeUnits, wru - provisionedPerMillionWru),
    },
  ];
  return changes.filter((c) => c.saves > 0.0005).sort((a, b) => b.saves - a.saves);
}

for (const m of [results[0], results[results.length - 1]]) {
  if (m === undefined) continue;
  const p = price(m);
  console.log(`\nWhat would lower "${m.name}" (${usd(p.total)} per million), each change alone:`);
  for (const { change, saves } of whatIf(m)) {
    console.log(`- ${change}: -${usd(saves)} -> ${usd(p.total - saves)}`);
  }
}

console.log(
  "\nNotes: SQS ReceiveMessage counts only receives that returned messages (one per handler invocation); the local pollers' empty 1 s polls are left out and priced above as the fixed idle cost. Deletes are DeleteMessageBatch, one per batch, as the local poller and Lambda's event source both do. Every message is under 64 KB (one request each). Lambda duration is the local wall time of each handler rounded up to 1 ms, against emulators on loopback: an estimate, not Lambda's (AWS round trips take longer). Log bytes are the application's lines plus an estimated 350 bytes of Lambda platform lines per invocation and 330 bytes per API access log line; CloudWatch Logs is outside the aim's list and shown apart.",
);

if (!args['skip-probe']) {
  const { rows, dynamoDbLocalError } = await compareCapacity();
  console.log(
    "\nCapacity rules check: units for known requests by AWS's rules (what the write ledger computes), vs what each emulator reports (ReturnConsumedCapacity INDEXES)",
  );
  console.log(
    `${'request'.padEnd(44)} ${'AWS'.padStart(5)} ${'dynalite'.padStart(10)} ${'DDB Local'.padStart(10)}`,
  );
  for (const r of rows) {
    const cell = (v: number | string) =>
      typeof v === 'number'
        ? String(v)
        : v.replace(/^error: UnknownOperationException$/, 'no such op').replace(/^error: /, '');
    console.log(
      `${r.name.padEnd(44)} ${String(r.aws).padStart(5)} ${cell(r.dynalite).padStart(10)} ${cell(r.dynamoDbLocal).padStart(10)}`,
    );
  }
  if (dynamoDbLocalError) console.log(`DynamoDB Local did not run: ${dynamoDbLocalError}`);
}
