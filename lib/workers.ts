import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  type AgeDeps,
  ageContacts,
  continueRekey,
  flagsConfigOf,
} from './classify/age-contacts.ts';
import type { ClassifyDeps } from './classify/apply-event.ts';
import { createClassifyHandler } from './classify/classify-handler.ts';
import type { Settings } from './config/settings.ts';
import { createDeliverHandler, type DeliverDeps } from './delivery/deliver-handler.ts';
import { sweepDueDeliveries } from './delivery/sweep.ts';
import type { Logger } from './observability/logger.ts';
import { SqsMessageQueue } from './queue/message-queue.ts';
import { DynamoAgeingStateStore } from './store/ageing-state-store.ts';
import { DynamoContactDirectory } from './store/contact-directory.ts';
import { DynamoContactStore } from './store/contact-store.ts';
import { DynamoDeliveryStore } from './store/delivery-store.ts';
import { DynamoFunnelStore } from './store/funnel-store.ts';
import { DynamoHistoryStore } from './store/history-store.ts';
import { DynamoMessageIndexStore } from './store/message-index-store.ts';
import { DynamoSubscriptionStore } from './store/subscription-store.ts';

/*
 * The workers' wiring, apart from the HTTP API's (lib/pipeline.ts): the classify, deliver and
 * sweep functions import only this, so their bundles carry no Hono, OpenAPI or email adapters.
 */

export interface PipelineClients {
  dynamo: DynamoDBClient;
  sqs: SQSClient;
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

export interface WorkerOptions {
  settings: Settings;
  clients: PipelineClients;
  logger: Logger;
  now?: () => Date;
  /** How long a subscriber may take to answer; 15 s unless a test needs it shorter. */
  deliveryTimeoutMs?: number;
  /** Fault injection for chaos and crash tests; production wiring never sets it. */
  intercept?: PipelineIntercept;
}

/** The stores and queues every part of the pipeline shares, on one table and two queues. */
export function createStores(settings: Settings, clients: PipelineClients) {
  const doc = DynamoDBDocumentClient.from(clients.dynamo, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    doc,
    subscriptions: new DynamoSubscriptionStore(doc, settings.tableName),
    deliveries: new DynamoDeliveryStore(doc, settings.tableName),
    contacts: new DynamoContactStore(doc, settings.tableName),
    history: new DynamoHistoryStore(doc, settings.tableName),
    funnel: new DynamoFunnelStore(doc, settings.tableName),
    ingestQueue: new SqsMessageQueue(clients.sqs, settings.ingestQueueUrl),
    deliveryQueue: new SqsMessageQueue(clients.sqs, settings.deliveryQueueUrl),
  };
}

export type Stores = ReturnType<typeof createStores>;

/** The queue-driven entry points of the pipeline. */
export interface Workers {
  classify: SqsHandler;
  deliver: SqsHandler;
  /**
   * The scheduled sweep: queues deliveries whose time has come (`queued`), and carries on a
   * re-key walk of the ageing pass, if one is under way (`refreshes`).
   */
  sweep: () => Promise<{ queued: number; refreshes: number }>;
  /** The scheduled ageing pass: queues a refresh of each contact whose flags time has moved. */
  ageContacts: () => Promise<{ queued: number; rekey: boolean }>;
}

/** Wires the classify, deliver and sweep handlers to their stores and queues. */
export function createWorkers(
  options: WorkerOptions,
  stores: Stores = createStores(options.settings, options.clients),
): Workers {
  const { settings, clients, logger } = options;
  const now = options.now ?? (() => new Date());
  const { subscriptions, deliveries, contacts, history, funnel, deliveryQueue } = stores;
  const classifyDeps: ClassifyDeps = {
    config: settings.config,
    contacts,
    subscriptions,
    deliveries,
    deliveryQueue,
    messages: new DynamoMessageIndexStore(stores.doc, settings.tableName),
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
  const ageDeps: AgeDeps = {
    directory: new DynamoContactDirectory(stores.doc, settings.tableName),
    ingestQueue: stores.ingestQueue,
    state: new DynamoAgeingStateStore(stores.doc, settings.tableName),
    flagsConfig: flagsConfigOf(settings.config.qualification),
    now,
    logger,
  };
  const intercept = options.intercept ?? {};
  const classify = createClassifyHandler(intercept.classifyDeps?.(classifyDeps) ?? classifyDeps);
  const deliver = createDeliverHandler(intercept.deliverDeps?.(deliverDeps) ?? deliverDeps);
  return {
    classify: intercept.classify?.(classify) ?? classify,
    deliver: intercept.deliver?.(deliver) ?? deliver,
    sweep: async () => {
      const { queued } = await sweepDueDeliveries({ deliveries, deliveryQueue, now, logger });
      const rekeyed = await continueRekey(ageDeps);
      return { queued, refreshes: rekeyed.queued };
    },
    ageContacts: () => ageContacts(ageDeps),
  };
}
