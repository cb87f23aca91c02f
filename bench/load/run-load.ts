import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { spawnRuntime } from '../../test/support/child-runtime.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';

/** What one load run is asked to do. */
export interface LoadOptions {
  /** Form submissions per second, scheduled by the clock (open loop). */
  rate: number;
  durationSeconds: number;
  /**
   * How long to wait for the next webhook once sending is done: the drain goes on while
   * webhooks keep arriving, and what has not arrived after this long with none arriving is lost.
   */
  drainTimeoutSeconds: number;
  /** Where progress lines go (the CLI prints them; a test may pass a no-op). */
  log?: (line: string) => void;
}

/** Nearest-rank percentiles of a sample, in milliseconds. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The figures of one load run. */
export interface LoadReport {
  machine: { cpus: number; cpuModel: string; node: string };
  /** The 1-minute load average when the run started and ended: other work skews the figures. */
  loadAverage: { start: number; end: number };
  offeredRate: number;
  durationSeconds: number;
  /** Submissions actually sent per second (sending span from the first to the last). */
  achievedRate: number;
  sent: number;
  /** Answered 202: the events that went in. */
  accepted: number;
  /** Answered anything else, or not answered at all (by status, or `error`). */
  refused: Record<string, number>;
  /** Accepted submissions whose `contact.stage_changed` webhook arrived: the events applied. */
  applied: number;
  /** accepted - applied: must be 0. */
  lost: number;
  /** Webhooks for a contact that had already arrived (at-least-once delivery repeats). */
  duplicateWebhooks: number;
  /** Of the lost ones, how many the API knows as contacts (classified, webhook not arrived). */
  lostButClassified: number;
  /** Scheduled send time to webhook arrival. */
  formToWebhookMs: Percentiles;
  /** Scheduled send time to the 202. */
  acceptMs: Percentiles;
  /** From the last scheduled send until the last webhook arrived (or the drain timed out). */
  drainMs: number;
}

interface Submission {
  email: string;
  scheduledAt: number;
  sentAt?: number;
  /** The HTTP status, or `error <code>` when no answer came. */
  status?: number | string;
  answeredAt?: number;
  webhookAt?: number;
}

const API_KEY = `lsk_load_${randomBytes(16).toString('hex')}`;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

function percentiles(values: number[]): Percentiles {
  const sorted = values.slice().sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** A CRM stand-in that notes when each contact's first stage change arrived. */
async function startWebhookClock(onWebhook: (email: string, at: number) => void): Promise<{
  url: string;
  close(): Promise<void>;
}> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      try {
        const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type?: string;
          data?: { contact?: { email?: string } };
        };
        const email = message.data?.contact?.email;
        if (message.type === 'contact.stage_changed' && typeof email === 'string') {
          onWebhook(email, at);
        }
      } catch {
        // Not ours to judge here: a body that is not JSON just does not count as applied.
      }
      res.statusCode = 200;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/leadstage`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `lib/local/main.ts` (what `npm start` runs) in a child process against a fresh data
 * folder, subscribes a local receiver, and posts form submissions with unique emails at a
 * fixed rate for the duration. The schedule is open loop: submission i is due at
 * start + i/rate whatever the earlier answers did, and latencies count from that due time,
 * so a stalled server shows up in the figures instead of slowing the sender down
 * (no coordinated omission). Then waits for every accepted submission's webhook.
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? (() => undefined);
  const loadAtStart = loadavg()[0] ?? 0;
  const dir = await makeTempDir('leadstage-load-');
  const submissions = new Map<string, Submission>();
  let duplicateWebhooks = 0;
  let lastWebhookAt = 0;
  const receiver = await startWebhookClock((email, at) => {
    const submission = submissions.get(email);
    if (submission === undefined) return;
    if (submission.webhookAt !== undefined) {
      duplicateWebhooks++;
      return;
    }
    submission.webhookAt = at;
    lastWebhookAt = Math.max(lastWebhookAt, at);
  });
  const runtime = await spawnRuntime({
    LEADSTAGE_DATA_DIR: dir.path,
    LEADSTAGE_API_KEY: API_KEY,
  });
  try {
    const created = await fetch(`${runtime.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, description: 'load run' }),
    });
    if (created.status !== 201) {
      throw new Error(`creating the subscription answered ${created.status}`);
    }
    log(
      `runtime ${runtime.url} (child pid ${runtime.process.pid}); ${options.rate}/s for ${options.durationSeconds} s`,
    );

    const runId = randomBytes(4).toString('hex');
    const total = Math.round(options.rate * options.durationSeconds);
    const intervalMs = 1000 / options.rate;
    const inFlight = new Set<Promise<void>>();
    const submitUrl = `${runtime.url}/v1/forms/contact/submissions`;

    const send = (submission: Submission, index: number) => {
      submission.sentAt = performance.now();
      const request = fetch(submitUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email: submission.email,
          name: `Load Test ${index}`,
          company: `Load ${runId} GmbH`,
        }),
      })
        .then(async (response) => {
          await response.arrayBuffer();
          submission.status = response.status;
        })
        .catch((error: unknown) => {
          const cause = (error as { cause?: { code?: string; message?: string } }).cause;
          submission.status = `error ${cause?.code ?? cause?.message ?? (error as Error).message}`;
        })
        .finally(() => {
          submission.answeredAt = performance.now();
          inFlight.delete(request);
        });
      inFlight.add(request);
    };

    const startedAt = performance.now();
    let next = 0;
    let lastProgress = startedAt;
    while (next < total) {
      const now = performance.now();
      // Everything due by now goes out at once: a late timer does not thin out the schedule.
      while (next < total && startedAt + next * intervalMs <= now) {
        const email = `load-${runId}-${next}@example.com`;
        const submission: Submission = { email, scheduledAt: startedAt + next * intervalMs };
        submissions.set(email, submission);
        send(submission, next);
        next++;
      }
      if (now - lastProgress >= 10_000) {
        lastProgress = now;
        const arrived = [...submissions.values()].filter((s) => s.webhookAt !== undefined).length;
        log(
          `  ${((now - startedAt) / 1000).toFixed(0)} s: sent ${next}, in flight ${inFlight.size}, webhooks ${arrived}`,
        );
      }
      if (next < total) await sleep(Math.max(0, startedAt + next * intervalMs - performance.now()));
    }
    const lastScheduledAt = startedAt + (total - 1) * intervalMs;
    const sendSpanMs = Math.max(
      1,
      ([...submissions.values()].at(-1)?.sentAt ?? startedAt) - startedAt,
    );
    await Promise.all([...inFlight]);

    const accepted = [...submissions.values()].filter((s) => s.status === 202);
    log(`  all ${total} answered; waiting for ${accepted.length} webhooks`);
    // Waits while webhooks keep arriving: a slow drain is latency, only a stalled one is loss.
    let arrived = accepted.length - accepted.filter((s) => s.webhookAt === undefined).length;
    let progressAt = performance.now();
    while (arrived < accepted.length) {
      await sleep(200);
      const now = accepted.length - accepted.filter((s) => s.webhookAt === undefined).length;
      if (now > arrived) {
        arrived = now;
        progressAt = performance.now();
      } else if (performance.now() - progressAt > options.drainTimeoutSeconds * 1000) {
        break;
      }
    }
    const missing = accepted.filter((s) => s.webhookAt === undefined);
    const drainMs =
      missing.length === 0 ? lastWebhookAt - lastScheduledAt : performance.now() - lastScheduledAt;

    // A lost event: was it lost before or after classification?
    let lostButClassified = 0;
    for (const submission of missing) {
      const found = await fetch(
        `${runtime.url}/v1/contacts?email=${encodeURIComponent(submission.email)}`,
        { headers: { authorization: `Bearer ${API_KEY}` } },
      );
      const page = (await found.json()) as { items?: unknown[] };
      if (found.status === 200 && (page.items?.length ?? 0) > 0) lostButClassified++;
    }

    const refused: Record<string, number> = {};
    for (const submission of submissions.values()) {
      if (submission.status === 202) continue;
      const key = String(submission.status ?? 'unanswered');
      refused[key] = (refused[key] ?? 0) + 1;
    }
    const applied = accepted.length - missing.length;
    return {
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        node: process.version,
      },
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
      offeredRate: options.rate,
      durationSeconds: options.durationSeconds,
      achievedRate: ((total - 1) / sendSpanMs) * 1000,
      sent: total,
      accepted: accepted.length,
      refused,
      applied,
      lost: accepted.length - applied,
      duplicateWebhooks,
      lostButClassified,
      formToWebhookMs: percentiles(
        accepted
          .filter((s) => s.webhookAt !== undefined)
          .map((s) => (s.webhookAt as number) - s.scheduledAt),
      ),
      acceptMs: percentiles(accepted.map((s) => (s.answeredAt as number) - s.scheduledAt)),
      drainMs,
    };
  } finally {
    runtime.process.kill('SIGTERM');
    const exit = await Promise.race([runtime.exited, sleep(15_000).then(() => undefined)]);
    if (exit === undefined) {
      runtime.process.kill('SIGKILL');
      await runtime.exited;
    }
    await receiver.close();
    await dir.remove();
  }
}

const ms = (value: number) => (Number.isNaN(value) ? '-' : `${value.toFixed(0)} ms`);

/** The report as the lines the CLI prints. */
export function formatReport(report: LoadReport): string[] {
  const f = report.formToWebhookMs;
  const a = report.acceptMs;
  const refused = Object.entries(report.refused)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
  return [
    `machine:            ${report.machine.cpus} CPUs (${report.machine.cpuModel}), Node ${report.machine.node}`,
    `load average:       ${report.loadAverage.start.toFixed(1)} at start, ${report.loadAverage.end.toFixed(1)} at end (1-minute; above ${report.machine.cpus} means others compete for the CPUs)`,
    `offered rate:       ${report.offeredRate}/s for ${report.durationSeconds} s (${report.sent} submissions)`,
    `achieved rate:      ${report.achievedRate.toFixed(1)}/s`,
    `events in (202):    ${report.accepted}${refused ? `   refused: ${refused}` : ''}`,
    `events applied:     ${report.applied} (webhooks received; ${report.duplicateWebhooks} duplicates)`,
    `lost:               ${report.lost}${report.lost > 0 ? ` (${report.lostButClassified} of them classified, webhook missing)` : ''}`,
    `form -> webhook:    p50 ${ms(f.p50)}  p90 ${ms(f.p90)}  p99 ${ms(f.p99)}  max ${ms(f.max)}`,
    `HTTP 202:           p50 ${ms(a.p50)}  p99 ${ms(a.p99)}  max ${ms(a.max)}`,
    `drain after last:   ${ms(report.drainMs)}`,
  ];
}
