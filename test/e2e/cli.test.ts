import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importEventId } from '../../lib/cli/csv-import.ts';
import { defaultAppConfig } from '../../lib/config/app-config.ts';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.ts';
import { silentLogger } from '../../lib/observability/logger.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { makeTempDir } from '../support/temp-dir.ts';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(projectRoot, 'bin', 'leadstage.js');
const API_KEY = 'cli-test-key-0123456789';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment without the caller's own Leadstage settings, so only the test's apply. */
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && !entry[0].startsWith('LEADSTAGE_'),
    ),
  );
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the leadstage CLI, run as a user runs it, against a local runtime', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let runtime: LocalRuntime;
  let receiver: Receiver;
  let refusing: Receiver;
  let sqs: SQSClient;

  /** Runs `node bin/leadstage.js ...args` against the runtime with the test's key. */
  function leadstage(
    args: string[],
    options: { env?: Record<string, string>; node?: string; cwd?: string } = {},
  ): Promise<Run> {
    const child = spawn(options.node ?? process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? dir.path,
      env: {
        ...cleanEnv(),
        LEADSTAGE_URL: runtime.url,
        LEADSTAGE_API_KEY: API_KEY,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }

  /** Runs a command that must succeed and print JSON; resolves with the parsed JSON. */
  async function json<T>(args: string[]): Promise<T> {
    const run = await leadstage([...args, '--json']);
    expect(run.stderr, `${args.join(' ')} wrote to stderr`).toBe('');
    expect(run.code, args.join(' ')).toBe(0);
    return JSON.parse(run.stdout) as T;
  }

  /** A failure is one message on stderr, never a stack trace. */
  function expectCleanFailure(run: Run, code: number, message: RegExp) {
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  }

  async function api<T>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${runtime.url}${path}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    return { status: response.status, body: (await response.json()) as T };
  }

  async function contactIdOf(email: string): Promise<string> {
    return eventually(async () => {
      const { body } = await api<{ items: { id: string }[] }>(
        `/v1/contacts?email=${encodeURIComponent(email)}`,
      );
      return body.items[0]?.id;
    });
  }

  /** Resolves once the ingest queue holds no message, visible or in flight: all applied. */
  async function ingestDrained(): Promise<void> {
    await eventually(async () => {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: runtime.queues.ingest.url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      const busy =
        Number(Attributes?.ApproximateNumberOfMessages ?? 1) +
        Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 1);
      return busy === 0 ? true : undefined;
    });
  }

  beforeAll(async () => {
    dir = await makeTempDir('leadstage-cli-');
    receiver = await startReceiver();
    refusing = await startReceiver({ status: () => 500 });
    runtime = await startLocalRuntime({
      dataDir: join(dir.path, 'data'),
      port: 0,
      host: '127.0.0.1',
      apiKey: API_KEY,
      config: defaultAppConfig,
      logger: silentLogger,
      visibilityTimeoutSeconds: 1,
    });
    sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: runtime.endpoints.sqs,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    sqs?.destroy();
    await runtime?.stop();
    await receiver?.close();
    await refusing?.close();
    await dir?.remove();
  });

  it('prints help for the tool and each command, and refuses unknown commands and options', async () => {
    const [tool, group, command, unknown, badOption, missing, version, badPort] = await Promise.all(
      [
        leadstage(['--help']),
        leadstage(['subscriptions', '--help']),
        leadstage(['import', '--help']),
        leadstage(['contact', 'list']),
        leadstage(['contacts', 'list', '--stag', 'lead']),
        leadstage(['contacts', 'get']),
        leadstage(['--version']),
        leadstage(['start', '--port', 'abc']),
      ],
    );
    expect(tool.code).toBe(0);
    expect(tool.stdout).toMatch(/^Usage: leadstage <command>/);
    for (const name of [
      'start',
      'subscriptions',
      'contacts',
      'deliveries',
      'dlq',
      'config',
      'import',
    ]) {
      expect(tool.stdout).toContain(`\n  ${name} `);
    }
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/add +Subscribe a URL/);
    expect(group.stdout).toMatch(/ping +Send a signed webhook.ping/);
    expect(command.code).toBe(0);
    expect(command.stdout).toContain('Usage: leadstage import FILE.csv [options]');
    expect(command.stdout).toContain('--dry-run');
    expectCleanFailure(unknown, 2, /Unknown command "contact"/);
    expectCleanFailure(badOption, 2, /Unknown option '--stag'/);
    expectCleanFailure(missing, 2, /`leadstage contacts get` expects ID\|EMAIL/);
    expect(version.stdout).toMatch(/^leadstage \d+\.\d+\.\d+ \(Node v\d+/);
    expectCleanFailure(badPort, 2, /--port must be a whole number from 0 to 65535/);
  });

  it('checks config files offline: valid, invalid with paths, not JSON, missing', async () => {
    await writeFile(
      join(dir.path, 'good.json'),
      JSON.stringify({ forms: [{ id: 'contact' }, { id: 'demo', fields: { firma: 'company' } }] }),
    );
    await writeFile(
      join(dir.path, 'bad.json'),
      JSON.stringify({ forms: [{ id: 'Bad Id', fields: { x: 'shoeSize' } }], colour: 'red' }),
    );
    await writeFile(join(dir.path, 'broken.json'), '{"forms": [');
    // Offline: a URL nothing listens on does not matter.
    const env = { LEADSTAGE_URL: `http://127.0.0.1:${await closedPort()}` };
    const [good, bad, badJson, broken, missing] = await Promise.all([
      leadstage(['config', 'check', 'good.json'], { env }),
      leadstage(['config', 'check', 'bad.json'], { env }),
      leadstage(['config', 'check', 'bad.json', '--json'], { env }),
      leadstage(['config', 'check', 'broken.json'], { env }),
      leadstage(['config', 'check', 'nowhere.json'], { env }),
    ]);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/good\.json is a valid config \(forms: contact, demo\)/);
    expectCleanFailure(bad, 1, /bad\.json is not a valid config:/);
    expect(bad.stderr).toMatch(/- forms\.0\.id: lower-case letters/);
    expect(bad.stderr).toMatch(/- forms\.0\.fields\.x: /);
    expect(bad.stderr).toMatch(/- \(root\): Unrecognized key: "colour"/);
    expect(badJson.code).toBe(1);
    const report = JSON.parse(badJson.stdout) as { valid: boolean; errors: { path: string }[] };
    expect(report.valid).toBe(false);
    expect(report.errors.map((error) => error.path)).toEqual(
      expect.arrayContaining(['forms.0.id', 'forms.0.fields.x', '(root)']),
    );
    expectCleanFailure(broken, 1, /\(file\): not valid JSON/);
    expectCleanFailure(missing, 1, /Cannot read .*nowhere\.json: ENOENT/);
  });

  it('fails with one clear message: bad key, unreachable URL, unknown contact, bad id', async () => {
    const port = await closedPort();
    const [badKey, unreachable, unknown, badId, notUrl] = await Promise.all([
      leadstage(['subscriptions', 'list'], { env: { LEADSTAGE_API_KEY: 'wrong-key-0123456789' } }),
      leadstage(['contacts', 'list', '--stage', 'lead', '--url', `http://127.0.0.1:${port}`]),
      leadstage(['contacts', 'get', 'ct_000000000000000000000000']),
      leadstage(['contacts', 'timeline', 'nope']),
      leadstage(['subscriptions', 'list', '--url', 'localhost:3000']),
    ]);
    expectCleanFailure(badKey, 1, /Unauthorized \(HTTP 401\): Send a valid API key/);
    expect(badKey.stderr).toMatch(/--api-key or LEADSTAGE_API_KEY/);
    expectCleanFailure(
      unreachable,
      1,
      new RegExp(`Cannot reach Leadstage at http://127.0.0.1:${port} \\(connection refused\\)`),
    );
    expectCleanFailure(
      unknown,
      1,
      /Not found \(HTTP 404\): No contact with id "ct_000000000000000000000000"/,
    );
    expectCleanFailure(badId, 2, /Not a contact id: "nope"/);
    expectCleanFailure(notUrl, 2, /Not an http\(s\) URL/);
  });

  it('manages subscriptions: add, list, get, ping, rotate, rm', async () => {
    interface Subscription {
      id: string;
      url: string;
      stages?: string[];
      secret?: string;
      enabled: boolean;
    }
    const created = await json<Subscription>([
      'subscriptions',
      'add',
      receiver.url,
      '--description',
      'CLI test',
      '--stage',
      'lead',
      '--stage',
      'sales_ready',
    ]);
    expect(created).toMatchObject({ url: receiver.url, stages: ['lead', 'sales_ready'] });
    expect(created.secret).toMatch(/^whsec_/);
    const failing = await json<Subscription>(['subscriptions', 'add', refusing.url]);

    const [list, table, got, ping, refusedPing, rotated] = await Promise.all([
      json<{ items: Subscription[] }>(['subscriptions', 'list']),
      leadstage(['subscriptions', 'list']),
      json<Subscription>(['subscriptions', 'get', created.id]),
      json<{ ok: boolean; statusCode: number }>(['subscriptions', 'ping', created.id]),
      leadstage(['subscriptions', 'ping', failing.id]),
      json<Subscription>(['subscriptions', 'rotate', created.id, '--overlap', '60']),
    ]);
    expect(list.items.map((item) => item.id)).toEqual(
      expect.arrayContaining([created.id, failing.id]),
    );
    expect(table.code).toBe(0);
    const [heading, ...lines] = table.stdout.trimEnd().split('\n');
    expect(heading).toMatch(/^ID +URL +HEALTH +STAGES +LAST SUCCESS +DESCRIPTION$/);
    expect(lines.find((line) => line.startsWith(created.id))).toMatch(
      new RegExp(`^${created.id} +${receiver.url} +ok +lead, sales_ready .*CLI test$`),
    );
    expect(got).toMatchObject({ id: created.id, enabled: true });
    expect(got.secret).toBeUndefined();
    expect(ping).toMatchObject({ ok: true, statusCode: 200 });
    expect(JSON.parse(receiver.received.at(-1)?.body ?? '{}')).toMatchObject({
      type: 'webhook.ping',
    });
    expectCleanFailure(refusedPing, 1, /did not accept the ping: HTTP 500/);
    expect(refusedPing.stdout).toBe('');
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);

    const removed = await leadstage(['subscriptions', 'rm', failing.id]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe(`Deleted ${failing.id}.\n`);
    const gone = await leadstage(['subscriptions', 'get', failing.id]);
    expectCleanFailure(gone, 1, /Not found \(HTTP 404\)/);
    // Keep the test's other subscription out of the later delivery counts.
    await json(['subscriptions', 'rm', created.id]);
  });

  it('imports a CSV (rejecting a bad row), idempotently, then reads, lists and erases contacts', async () => {
    const subscription = await json<{ id: string }>(['subscriptions', 'add', receiver.url]);
    const csv = [
      'E-Mail;First Name;Last Name;Company;Employees;Country;Notes',
      'anna.import@example.com;Anna;Schmidt;Muster AG;"1.200";de;met at fair',
      'ben.import@example.com;Ben;Meyer;Meyer GmbH;40;DE;',
      'not-an-email;Carl;Bad;;;DE;',
      'dora.import@example.com;Dora;Klein;;;Deutschland;',
      'erik.import@example.com;Erik;Wolf;Wolf KG;;AT;',
    ].join('\n');
    await writeFile(join(dir.path, 'leads.csv'), csv);
    const before = receiver.received.length;

    const first = await leadstage(['import', 'leads.csv', '--json', '--source', 'crm-export']);
    expect(first.code).toBe(1);
    const summary = JSON.parse(first.stdout) as {
      rows: number;
      accepted: number;
      rejected: { line: number; reasons: string[] }[];
      ignoredColumns: string[];
    };
    expect(summary).toMatchObject({ rows: 5, accepted: 3, ignoredColumns: ['Notes'] });
    expect(summary.rejected).toEqual([
      { line: 4, reasons: [expect.stringMatching(/^email: /)] },
      { line: 5, reasons: ['country: an ISO 3166-1 alpha-2 code such as DE'] },
    ]);
    // Progress goes to stderr (plain lines off a terminal), then the count of rejected rows.
    expect(first.stderr).toContain('Ignoring columns: "Notes"');
    expect(first.stderr).toContain('Imported 3/3 rows');
    expect(first.stderr).toContain('2 row(s) rejected');

    const annaId = await contactIdOf('anna.import@example.com');
    const [benId, erikId] = await Promise.all([
      contactIdOf('ben.import@example.com'),
      contactIdOf('erik.import@example.com'),
    ]);
    // Three new leads, each a stage change delivered to the subscription.
    await receiver.waitFor(before + 3);
    await ingestDrained();

    const annaEventId = `api_${importEventId({
      kind: 'contact_imported',
      email: 'anna.import@example.com',
      profile: {
        firstName: 'Anna',
        lastName: 'Schmidt',
        company: 'Muster AG',
        country: 'DE',
        employees: 1200,
      },
    })}`;
    const [anna, byId, stage, stageTable, timeline, human] = await Promise.all([
      json<{ id: string; stage: string; profile: Record<string, unknown>; sequence: number }>([
        'contacts',
        'get',
        'anna.import@example.com',
      ]),
      json<{ id: string }>(['contacts', 'get', benId]),
      json<{ items: { id: string; stage: string }[] }>([
        'contacts',
        'list',
        '--stage',
        'lead',
        '--all',
      ]),
      leadstage(['contacts', 'list', '--stage', 'lead']),
      json<{ items: { eventId: string; kind: string; source: string }[] }>([
        'contacts',
        'timeline',
        annaId,
      ]),
      leadstage(['contacts', 'get', annaId]),
    ]);
    expect(anna).toMatchObject({
      id: annaId,
      stage: 'lead',
      profile: { firstName: 'Anna', company: 'Muster AG', employees: 1200, country: 'DE' },
    });
    expect(byId.id).toBe(benId);
    expect(stage.items.map((item) => item.id)).toEqual(
      expect.arrayContaining([annaId, benId, erikId]),
    );
    expect(stageTable.stdout).toMatch(/^ID +EMAIL +NAME +COMPANY +STAGE +SINCE +FLAGS\n/);
    expect(stageTable.stdout).toMatch(
      new RegExp(`\\n${annaId} +anna\\.import@example\\.com +Anna Schmidt +Muster AG +lead `),
    );
    expect(timeline.items).toEqual([
      expect.objectContaining({
        eventId: annaEventId,
        kind: 'contact_imported',
        source: 'api:crm-export',
      }),
    ]);
    expect(human.stdout).toMatch(/^stage: +lead since /m);
    expect(human.stdout).toMatch(/^ {2}company: +Muster AG$/m);

    // The same file again: the same event ids, dropped as duplicates once applied.
    const delivered = receiver.received.length;
    const again = await leadstage(['import', 'leads.csv', '--json', '--source', 'crm-export']);
    expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 3 });
    await ingestDrained();
    const [annaAfter, timelineAfter] = await Promise.all([
      json<typeof anna>(['contacts', 'get', annaId]),
      json<{ items: { eventId: string }[] }>(['contacts', 'timeline', annaId]),
    ]);
    expect(annaAfter).toEqual(anna);
    // Nothing new was applied: the timeline names only the first run's event.
    expect(new Set(timelineAfter.items.map((item) => item.eventId))).toEqual(
      new Set([annaEventId]),
    );
    expect(receiver.received.length).toBe(delivered);

    // Deliveries of the subscription, one sent again with its webhook-id.
    const deliveries = await json<{
      items: { deliveryId: string; contactId: string; status: string }[];
    }>(['deliveries', 'list', '--subscription', subscription.id]);
    expect(deliveries.items).toHaveLength(3);
    const annaDelivery = deliveries.items.find((item) => item.contactId === annaId);
    expect(annaDelivery?.status).toBe('delivered');
    // Listed before the redelivery below makes it pending again.
    const deliveryTable = await leadstage([
      'deliveries',
      'list',
      '--subscription',
      subscription.id,
      '--status',
      'delivered',
    ]);
    const [delivered2, byContact] = await Promise.all([
      json<{ deliveryId: string }>([
        'deliveries',
        'redeliver',
        annaDelivery?.deliveryId ?? '',
        '--subscription',
        subscription.id,
      ]),
      json<{ items: { deliveryId: string }[] }>(['deliveries', 'list', '--contact', annaId]),
    ]);
    expect(deliveryTable.stdout).toMatch(
      /^DELIVERY ID +TYPE +STATUS +ATTEMPTS +LAST ATTEMPT +CREATED\n/,
    );
    expect(deliveryTable.stdout).toContain(
      `${annaDelivery?.deliveryId}  contact.stage_changed  delivered  1`,
    );
    expect(delivered2.deliveryId).toBe(annaDelivery?.deliveryId);
    const [redelivered] = (await receiver.waitFor(delivered + 1)).slice(delivered);
    expect(redelivered?.headers['webhook-id']).toBe(annaDelivery?.deliveryId);
    // Without --subscription, it is found among the contact's deliveries.
    const [again2, badDeliveryId] = await Promise.all([
      leadstage(['deliveries', 'redeliver', annaDelivery?.deliveryId ?? '']),
      leadstage(['deliveries', 'redeliver', 'msg_nope']),
    ]);
    expect(again2.stdout).toBe(`Queued ${annaDelivery?.deliveryId} for sending again.\n`);
    const [redeliveredAgain] = (await receiver.waitFor(delivered + 2)).slice(delivered + 1);
    expect(redeliveredAgain?.headers['webhook-id']).toBe(annaDelivery?.deliveryId);
    expectCleanFailure(badDeliveryId, 2, /Not a delivery id: "msg_nope"/);
    expect(byContact.items.map((item) => item.deliveryId)).toEqual([annaDelivery?.deliveryId]);

    // Erasing needs --yes; then the contact is gone.
    const [unconfirmed, unknownErase] = await Promise.all([
      leadstage(['contacts', 'erase', erikId]),
      leadstage(['contacts', 'erase', 'ct_000000000000000000000000', '--yes']),
    ]);
    expectCleanFailure(unconfirmed, 2, /cannot be undone: add --yes/);
    expectCleanFailure(unknownErase, 1, /Not found \(HTTP 404\)/);
    const erased = await json<{ id: string; erased: boolean }>([
      'contacts',
      'erase',
      erikId,
      '--yes',
    ]);
    expect(erased).toEqual({ id: erikId, erased: true });
    expectCleanFailure(await leadstage(['contacts', 'get', erikId]), 1, /HTTP 404/);
    await json(['subscriptions', 'rm', subscription.id]);
  });

  it('imports with a dry run and refuses a file without an email column', async () => {
    await writeFile(join(dir.path, 'dry.csv'), 'email,company\nfrank.dry@example.com,F AG\n');
    await writeFile(join(dir.path, 'noemail.csv'), 'name,company\nFrank,F AG\n');
    const [dry, noEmail, table] = await Promise.all([
      leadstage(['import', 'dry.csv', '--dry-run', '--json']),
      leadstage(['import', 'noemail.csv']),
      leadstage(['import', 'dry.csv', '--dry-run']),
    ]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ rows: 1, dryRun: true, valid: 1, rejected: [] });
    expect(table.stdout).toMatch(/Checked 1 rows of dry\.csv: 1 valid, 0 rejected/);
    expectCleanFailure(noEmail, 1, /No email column/);
    const { body } = await api<{ items: unknown[] }>('/v1/contacts?email=frank.dry%40example.com');
    expect(body.items).toEqual([]);
  });

  it('lists dead letters without consuming them and redrives them to their queue', async () => {
    const event = {
      id: 'cli-dlq-1',
      kind: 'contact_imported',
      occurredAt: new Date().toISOString(),
      email: 'dlq.cli@example.com',
      source: 'api',
      profile: {},
    };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: runtime.queues.ingest.dlqUrl,
        MessageBody: JSON.stringify({ v: 1, event }),
      }),
    );
    const counts = await json<{ queues: { name: string; approximateCount: number }[] }>([
      'dlq',
      'list',
    ]);
    expect(counts.queues).toEqual(
      expect.arrayContaining([
        { name: 'ingest', approximateCount: 1 },
        { name: 'delivery', approximateCount: 0 },
      ]),
    );
    const [letters, table, badQueue] = await Promise.all([
      json<{ items: { messageId: string; summary: Record<string, unknown> }[] }>([
        'dlq',
        'list',
        'ingest',
      ]),
      leadstage(['dlq', 'list']),
      leadstage(['dlq', 'list', 'outbox']),
    ]);
    expect(letters.items).toEqual([
      expect.objectContaining({
        summary: expect.objectContaining({ kind: 'contact_imported', eventId: 'cli-dlq-1' }),
      }),
    ]);
    expect(table.stdout).toMatch(/^QUEUE +MESSAGES \(APPROX\.\)\ningest +1\ndelivery +0\n$/);
    expectCleanFailure(badQueue, 2, /QUEUE must be one of ingest, delivery/);

    const [unknownId] = await Promise.all([
      leadstage(['dlq', 'redrive', 'ingest', '--message-id', 'no-such-message']),
    ]);
    expectCleanFailure(unknownId, 1, /Not in the ingest dead-letter queue .*no-such-message/);
    const redriven = await json<{ redriven: number }>(['dlq', 'redrive', 'ingest']);
    expect(redriven.redriven).toBe(1);
    // Back in the ingest queue, the event is applied.
    await contactIdOf('dlq.cli@example.com');
    const after = await json<{ items: unknown[] }>(['dlq', 'list', 'ingest']);
    expect(after.items).toEqual([]);
  });

  it('start runs the local runtime; other commands then find its kept key; SIGTERM stops it', async () => {
    const home = await makeTempDir('leadstage-cli-start-');
    try {
      const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--log-level', 'warn'], {
        cwd: home.path,
        env: cleanEnv(),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
        (resolve) => child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner:\n${stderr}`)), 30_000);
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
          const match = /^API:\s+(http:\/\/\S+)$/m.exec(stderr);
          if (match?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        void exited.then(({ code }) => reject(new Error(`exited with ${code}:\n${stderr}`)));
      });
      expect(stderr).toMatch(/API key: +lsk_\S+ \(generated in .*\.leadstage\/api-key\)/);
      const health = await fetch(`${url}/healthz`);
      expect(await health.json()).toEqual({ status: 'ok' });

      // No key given: the CLI reads the one `start` kept in ./.leadstage.
      const list = await leadstage(['subscriptions', 'list', '--json', '--url', url], {
        cwd: home.path,
        env: { LEADSTAGE_API_KEY: '' },
      });
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual({ items: [] });

      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(stderr).toContain('Stopped.');
    } finally {
      await home.remove();
    }
  });

  it('runs through the launcher on the Node that runs npm too (the pinned Node takes over when it is older)', async () => {
    // npm sets npm_node_execPath to its own Node (the system one); the tests run on the pinned one.
    const npmNode = process.env.npm_node_execPath ?? process.execPath;
    const [version, list] = await Promise.all([
      leadstage(['--version'], { node: npmNode }),
      leadstage(['dlq', 'list', '--json'], { node: npmNode }),
    ]);
    expect(version.code).toBe(0);
    const ran = /\(Node v(\d+)\.(\d+)/.exec(version.stdout);
    expect(Number(ran?.[1]) * 100 + Number(ran?.[2])).toBeGreaterThanOrEqual(2218);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveProperty('queues');
  });
});
