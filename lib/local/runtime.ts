import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { serve } from '@hono/node-server';
import type { AppConfig } from '../config/app-config.ts';
import type { Settings } from '../config/settings.ts';
import { hashApiKey } from '../ingest/api-key-auth.ts';
import type { Logger } from '../observability/logger.ts';
import { meterDynamo, meterSqs, type UsageMeter } from '../observability/usage-meter.ts';
import { createPipeline, type PipelineIntercept } from '../pipeline.ts';
import { ensureQueuePair, ensureTable, type QueuePair } from './bootstrap.ts';
import { type Poller, startPoller } from './poller.ts';
import { dataPaths, type LocalServer, startLocalDynamo, startLocalSqs } from './servers.ts';

const REGION = 'us-east-1';
const TABLE_NAME = 'leadstage';

export interface LocalRuntimeOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  host: string;
  apiKey: string;
  config: AppConfig;
  logger: Logger;
  /** Seconds before a failed message is received again; tests shorten it. */
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  deliveryTimeoutMs?: number;
  /** Counts AWS requests and consumed capacity (the bench and cost tests read it). */
  meter?: UsageMeter;
  /** How often the sweep runs (EventBridge does it every minute on AWS); tests shorten it. */
  sweepIntervalMs?: number;
  /** How often the ageing pass runs (daily on AWS; hourly here, and once at start). */
  ageIntervalMs?: number;
  /** Fault injection for the chaos tests (lib/pipeline.ts). */
  intercept?: PipelineIntercept;
}

export interface LocalRuntime {
  url: string;
  dataDir: string;
  endpoints: { dynamo: string; sqs: string };
  queues: { ingest: QueuePair; delivery: QueuePair };
  tableName: string;
  /** Stops taking requests, finishes the batches in hand, and closes the data stores. */
  stop(): Promise<void>;
}

/**
 * Runs the whole pipeline in this process: dynalite and fauxqs with their data under
 * `dataDir`, the Hono app on `@hono/node-server`, and pollers feeding the classify and
 * deliver handlers exactly as Lambda's SQS event source would.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { logger } = options;
  const paths = dataPaths(options.dataDir);
  const started: LocalServer[] = [];
  const pollers: Poller[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  try {
    const dynamoServer = await startLocalDynamo(paths.dynamo);
    started.push(dynamoServer);
    const sqsServer = await startLocalSqs(paths.sqs);
    started.push(sqsServer);

    // Local servers accept any credentials; fixed ones keep the SDK from searching for real ones.
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    // A request to a local server that never answers fails after this and is retried by the SDK
    // or the queue, instead of holding a worker forever (the SDK sets no timeout by default).
    const requestHandler = { connectionTimeout: 2_000, requestTimeout: 15_000 };
    const dynamo = new DynamoDBClient({
      region: REGION,
      endpoint: dynamoServer.endpoint,
      credentials,
      requestHandler,
    });
    const sqs = new SQSClient({
      region: REGION,
      endpoint: sqsServer.endpoint,
      credentials,
      requestHandler,
    });
    if (options.meter) {
      meterDynamo(dynamo, options.meter);
      meterSqs(sqs, options.meter);
    }

    const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 30;
    const maxReceiveCount = options.maxReceiveCount ?? 5;
    await ensureTable(dynamo, TABLE_NAME);
    const ingest = await ensureQueuePair(sqs, 'leadstage-ingest', {
      visibilityTimeoutSeconds,
      maxReceiveCount,
    });
    const delivery = await ensureQueuePair(sqs, 'leadstage-delivery', {
      visibilityTimeoutSeconds,
      maxReceiveCount,
    });

    const settings: Settings = {
      tableName: TABLE_NAME,
      ingestQueueUrl: ingest.url,
      deliveryQueueUrl: delivery.url,
      ingestDlqUrl: ingest.dlqUrl,
      deliveryDlqUrl: delivery.dlqUrl,
      maxReceiveCount,
      apiKeyHashes: [hashApiKey(options.apiKey)],
      config: options.config,
      allowLocalWebhookTargets: true,
    };
    const pipeline = createPipeline({
      settings,
      clients: { dynamo, sqs },
      logger,
      ...(options.deliveryTimeoutMs === undefined
        ? {}
        : { deliveryTimeoutMs: options.deliveryTimeoutMs }),
      ...(options.intercept ? { intercept: options.intercept } : {}),
      // fauxqs loses a message whose visibility is set to 0 (lib/queue/dead-letter-queue.ts).
      deadLetterOptions: { releaseVisibilitySeconds: 1 },
    });

    pollers.push(
      startPoller({
        sqs,
        queueUrl: ingest.url,
        queueArn: ingest.arn,
        region: REGION,
        handler: pipeline.classify,
        logger,
      }),
      startPoller({
        sqs,
        queueUrl: delivery.url,
        queueArn: delivery.arn,
        region: REGION,
        handler: pipeline.deliver,
        logger,
      }),
    );

    // What EventBridge does on AWS: the sweep and the ageing pass, on timers. One job at a
    // time; a failed one is logged and its next run tries again.
    let scheduled: Promise<unknown> = Promise.resolve();
    const runScheduled = (name: string, job: () => Promise<unknown>) => {
      scheduled = scheduled.then(() =>
        job().catch((error: unknown) => logger.warn(`${name} failed`, { error })),
      );
    };
    const sweepTimer = setInterval(
      () => runScheduled('sweep', pipeline.sweep),
      options.sweepIntervalMs ?? 30_000,
    );
    // Also once at start: a machine that was off for days has contacts gone stale meanwhile.
    runScheduled('ageing pass', pipeline.ageContacts);
    const ageTimer = setInterval(
      () => runScheduled('ageing pass', pipeline.ageContacts),
      options.ageIntervalMs ?? 3_600_000,
    );
    sweepTimer.unref();
    ageTimer.unref();
    stoppers.push(async () => {
      clearInterval(sweepTimer);
      clearInterval(ageTimer);
      await scheduled;
    });

    const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve(
        { fetch: pipeline.app.fetch, port: options.port, hostname: options.host },
        () => resolve(s),
      );
      s.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;

    let stopped: Promise<void> | undefined;
    return {
      url: `http://${hostForUrl}:${port}`,
      dataDir: options.dataDir,
      endpoints: { dynamo: dynamoServer.endpoint, sqs: sqsServer.endpoint },
      queues: { ingest, delivery },
      tableName: TABLE_NAME,
      stop() {
        stopped ??= (async () => {
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            if ('closeIdleConnections' in server) server.closeIdleConnections();
          });
          await Promise.all(pollers.map((poller) => poller.stop()));
          for (const stop of stoppers) await stop();
          dynamo.destroy();
          sqs.destroy();
          for (const s of started.reverse()) await s.stop();
        })();
        return stopped;
      },
    };
  } catch (error) {
    await Promise.all(pollers.map((poller) => poller.stop()));
    for (const stop of stoppers) await stop();
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw error;
  }
}
