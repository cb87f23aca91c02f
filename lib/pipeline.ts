import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { ClassifyDeps } from './classify/apply-event.ts';
import { createClassifyHandler } from './classify/classify-handler.ts';
import type { Settings } from './config/settings.ts';
import { createDeliverHandler, type DeliverDeps } from './delivery/deliver-handler.ts';
import { sweepDueDeliveries } from './delivery/sweep.ts';
import { createApp } from './ingest/app.ts';
import type { ApiDeps } from './ingest/deps.ts';
import { createEmailAdapters } from './ingest/email/adapters.ts';
import { createProviderContext } from './ingest/email/context.ts';
import type { ProviderContext } from './ingest/email/types.ts';
import type { Logger } from './observability/logger.ts';
import { SqsDeadLetterQueue, type SqsDeadLetterQueueOptions } from './queue/dead-letter-queue.ts';
import { SqsMessageQueue } from './queue/message-queue.ts';
import { DynamoContactDirectory } from './store/contact-directory.ts';
import { DynamoContactStore } from './store/contact-store.ts';
import { DynamoDeliveryStore } from './store/delivery-store.ts';
import { DynamoFunnelStore } from './store/funnel-store.ts';
import { DynamoHistoryStore } from './store/history-store.ts';
import { DynamoMessageIndexStore } from './store/message-index-store.ts';
import { DynamoSubscriptionStore } from './store/subscription-store.ts';

export interface PipelineClients {
  dynamo: DynamoDBClient;
  sqs: SQSClient;
}

export interface PipelineOptions {
  settings: Settings;
  clients: PipelineClients;
  logger: Logger;
  now?: () => Date;
  /** For tests: a fixed clock or a fake certificate fetcher for the email adapters. */
  providerContext?: ProviderContext;
  /** How long a subscriber may take to answer; 15 s unless a test needs it shorter. */
  deliveryTimeoutMs?: number;
  /** How the admin API's dead-letter listing gives messages back (the local runtime's differs). */
  deadLetterOptions?: SqsDeadLetterQueueOptions;
  /** Fault injection for chaos and crash tests; production wiring never sets it. */
  intercept?: PipelineIntercept;
}

type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * Seams where the chaos tests stop a worker at chosen points: wrap a worker's stores
 * (fail after a commit, before its projections) or the worker itself (die mid-batch).
 */
export interface PipelineIntercept {
  classifyDeps?: (deps: ClassifyDeps) => ClassifyDeps;
  deliverDeps?: (deps: DeliverDeps) => DeliverDeps;
  classify?: (handler: SqsHandler) => SqsHandler;
  deliver?: (handler: SqsHandler) => SqsHandler;
}

/** The three entry points of the pipeline, wired to their stores and queues. */
export interface Pipeline {
  app: OpenAPIHono;
  classify: (event: SQSEvent) => Promise<SQSBatchResponse>;
  deliver: (event: SQSEvent) => Promise<SQSBatchResponse>;
  /** The scheduled sweep: queues deliveries whose time has come. */
  sweep: () => Promise<{ queued: number }>;
}

/**
 * Wires the adapters to the handlers once. The Lambda entry points and the local runtime
 * both call this, so both run the very same code against different endpoints.
 */
export function createPipeline(options: PipelineOptions): Pipeline {
  const { settings, clients, logger } = options;
  const now = options.now ?? (() => new Date());
  const doc = DynamoDBDocumentClient.from(clients.dynamo, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const subscriptions = new DynamoSubscriptionStore(doc, settings.tableName);
  const deliveries = new DynamoDeliveryStore(doc, settings.tableName);
  const contacts = new DynamoContactStore(doc, settings.tableName);
  const history = new DynamoHistoryStore(doc, settings.tableName);
  const funnel = new DynamoFunnelStore(doc, settings.tableName);
  const ingestQueue = new SqsMessageQueue(clients.sqs, settings.ingestQueueUrl);
  const deliveryQueue = new SqsMessageQueue(clients.sqs, settings.deliveryQueueUrl);

  const apiDeps: ApiDeps = {
    config: settings.config,
    ingestQueue,
    subscriptions,
    contacts,
    directory: new DynamoContactDirectory(doc, settings.tableName),
    history,
    deliveries,
    funnel,
    deliveryQueue,
    deadLetterQueues: {
      ...(settings.ingestDlqUrl
        ? {
            ingest: new SqsDeadLetterQueue(
              clients.sqs,
              settings.ingestDlqUrl,
              options.deadLetterOptions,
            ),
          }
        : {}),
      ...(settings.deliveryDlqUrl
        ? {
            delivery: new SqsDeadLetterQueue(
              clients.sqs,
              settings.deliveryDlqUrl,
              options.deadLetterOptions,
            ),
          }
        : {}),
    },
    ...(settings.maxReceiveCount === undefined
      ? {}
      : { maxReceiveCount: settings.maxReceiveCount }),
    apiKeyHashes: settings.apiKeyHashes,
    allowLocalWebhookTargets: settings.allowLocalWebhookTargets,
    emailAdapters: createEmailAdapters(settings.config.providers),
    providerContext: options.providerContext ?? createProviderContext(now),
    now,
    logger,
  };
  const classifyDeps: ClassifyDeps = {
    config: settings.config,
    contacts,
    subscriptions,
    deliveries,
    deliveryQueue,
    messages: new DynamoMessageIndexStore(doc, settings.tableName),
    history,
    funnel,
    ...(settings.ingestDlqUrl
      ? { deadLetters: new SqsMessageQueue(clients.sqs, settings.ingestDlqUrl) }
      : {}),
    now,
    logger,
  };
  const deliverDeps: DeliverDeps = {
    subscriptions,
    deliveries,
    contacts,
    deliveryQueue,
    allowLocalTargets: settings.allowLocalWebhookTargets,
    retrySchedule: settings.config.delivery.retryScheduleSeconds,
    ...(settings.deliveryDlqUrl
      ? { deadLetters: new SqsMessageQueue(clients.sqs, settings.deliveryDlqUrl) }
      : {}),
    now,
    logger,
    ...(options.deliveryTimeoutMs === undefined ? {} : { timeoutMs: options.deliveryTimeoutMs }),
  };
  const intercept = options.intercept ?? {};
  const classify = createClassifyHandler(intercept.classifyDeps?.(classifyDeps) ?? classifyDeps);
  const deliver = createDeliverHandler(intercept.deliverDeps?.(deliverDeps) ?? deliverDeps);
  return {
    app: createApp(apiDeps),
    classify: intercept.classify?.(classify) ?? classify,
    deliver: intercept.deliver?.(deliver) ?? deliver,
    sweep: () => sweepDueDeliveries({ deliveries, deliveryQueue, now, logger }),
  };
}
