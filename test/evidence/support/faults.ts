import { AsyncLocalStorage } from 'node:async_hooks';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { PipelineIntercept } from '../../../lib/workers.ts';
import type { Prng } from './prng.ts';

/** An injected crash: the worker dies here, as a Lambda that times out or runs out of memory. */
export class ChaosKill extends Error {
  override readonly name = 'ChaosKill';
}

export const KILL_KINDS = [
  'classifyAfterCommit',
  'classifyMidProjection',
  'classifyMidBatch',
  'deliverAfterSend',
  'deliverAfterRecord',
  'deliverMidBatch',
] as const;
export type KillKind = (typeof KILL_KINDS)[number];

export interface FaultRates {
  /** Per commit: the contact is written, then the worker dies before its projections. */
  classifyAfterCommit: number;
  /** Per delivery job queued by a projection: the worker dies before it is sent. */
  classifyMidProjection: number;
  /** Per batch: the first k records are handled, then the invocation dies. */
  classifyMidBatch: number;
  /** Per attempt: the subscriber was called, the worker dies before recording the outcome. */
  deliverAfterSend: number;
  /** Per attempt: the outcome is recorded, the worker dies before the rest (retry job, health). */
  deliverAfterRecord: number;
  deliverMidBatch: number;
}

export interface FaultLog {
  kills: Record<KillKind, number>;
  /** Records received again (ApproximateReceiveCount > 1), per worker. */
  redeliveries: { classify: number; deliver: number };
  /** Batches handed to each worker. */
  batches: { classify: number; deliver: number };
  /** Milliseconds each worker spent in its batches. */
  busyMs: { classify: number; deliver: number };
}

type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * Builds the pipeline intercept that kills workers at random points, counting each kill.
 * A message is only ever killed on its first `maxKilledReceives` receives: with the queue's
 * maxReceiveCount above that, kills alone can never move a message to a DLQ, so a non-empty
 * DLQ at the end is the pipeline's failure, not the test's.
 */
export function chaosIntercept(options: {
  prng: Prng;
  rates: FaultRates;
  maxKilledReceives: number;
}): { intercept: PipelineIntercept; log: FaultLog } {
  const { prng, rates, maxKilledReceives } = options;
  const log: FaultLog = {
    kills: Object.fromEntries(KILL_KINDS.map((kind) => [kind, 0])) as Record<KillKind, number>,
    redeliveries: { classify: 0, deliver: 0 },
    batches: { classify: 0, deliver: 0 },
    busyMs: { classify: 0, deliver: 0 },
  };
  /** Whether the batch in hand may still be killed (every record is early in its receives). */
  const batch = new AsyncLocalStorage<{ killable: boolean }>();

  const maybeKill = (kind: KillKind) => {
    if (batch.getStore()?.killable && prng.chance(rates[kind])) {
      log.kills[kind] += 1;
      throw new ChaosKill(kind);
    }
  };

  /** The object with one method wrapped; the rest is the real object's, bound to it. */
  const around = <T extends object>(
    target: T,
    method: keyof T & string,
    wrap: (call: () => Promise<unknown>) => Promise<unknown>,
  ): T =>
    new Proxy(target, {
      get(object, property) {
        const value = Reflect.get(object, property, object) as unknown;
        if (typeof value !== 'function') return value;
        if (property !== method) return value.bind(object);
        return (...args: unknown[]) => wrap(() => value.apply(object, args));
      },
    });

  const worker =
    (name: 'classify' | 'deliver', midBatch: KillKind) =>
    (handler: SqsHandler): SqsHandler =>
    async (event) => {
      log.batches[name] += 1;
      const receives = event.Records.map((record) =>
        Number(record.attributes.ApproximateReceiveCount),
      );
      log.redeliveries[name] += receives.filter((count) => count > 1).length;
      const killable = receives.every((count) => count <= maxKilledReceives);
      const start = performance.now();
      return batch.run({ killable }, async () => {
        if (killable && event.Records.length > 1 && prng.chance(rates[midBatch])) {
          // Dies after the first k records are done: the poller gets no answer, so the whole
          // batch (done ones too) comes back after its visibility timeout, as on Lambda.
          const k = prng.int(1, event.Records.length - 1);
          await handler({ Records: event.Records.slice(0, k) });
          log.kills[midBatch] += 1;
          log.busyMs[name] += performance.now() - start;
          throw new ChaosKill(midBatch);
        }
        try {
          return await handler(event);
        } finally {
          log.busyMs[name] += performance.now() - start;
        }
      });
    };

  const intercept: PipelineIntercept = {
    classifyDeps: (deps) => ({
      ...deps,
      contacts: around(deps.contacts, 'commit', async (call) => {
        const result = await call();
        maybeKill('classifyAfterCommit');
        return result;
      }),
      deliveryQueue: around(deps.deliveryQueue, 'send', async (call) => {
        maybeKill('classifyMidProjection');
        return call();
      }),
    }),
    deliverDeps: (deps) => ({
      ...deps,
      deliveries: around(deps.deliveries, 'recordAttempt', async (call) => {
        maybeKill('deliverAfterSend');
        const result = await call();
        maybeKill('deliverAfterRecord');
        return result;
      }),
    }),
    classify: worker('classify', 'classifyMidBatch'),
    deliver: worker('deliver', 'deliverMidBatch'),
  };
  return { intercept, log };
}
