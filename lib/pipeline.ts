import type { OpenAPIHono } from '@hono/zod-openapi';
import { createApp } from './ingest/app.ts';
import type { ApiDeps } from './ingest/deps.ts';
import { createEmailAdapters } from './ingest/email/adapters.ts';
import { createProviderContext } from './ingest/email/context.ts';
import type { ProviderContext } from './ingest/email/types.ts';
import { SqsDeadLetterQueue, type SqsDeadLetterQueueOptions } from './queue/dead-letter-queue.ts';
import { DynamoContactDirectory } from './store/contact-directory.ts';
import { createStores, createWorkers, type WorkerOptions, type Workers } from './workers.ts';

export type { PipelineClients, PipelineIntercept } from './workers.ts';

export interface PipelineOptions extends WorkerOptions {
  /** For tests: a fixed clock or a fake certificate fetcher for the email adapters. */
  providerContext?: ProviderContext;
  /** How the admin API's dead-letter listing gives messages back (the local runtime's differs). */
  deadLetterOptions?: SqsDeadLetterQueueOptions;
}

/** The HTTP API and the three queue-driven entry points, wired to their stores and queues. */
export interface Pipeline extends Workers {
  app: OpenAPIHono;
}

/**
 * Wires the adapters to the handlers once. The Lambda entry points and the local runtime
 * both call this, so both run the very same code against different endpoints.
 */
export function createPipeline(options: PipelineOptions): Pipeline {
  const { settings, clients, logger } = options;
  const now = options.now ?? (() => new Date());
  const stores = createStores(settings, clients);
  const { subscriptions, deliveries, contacts, history, funnel, ingestQueue, deliveryQueue } =
    stores;

  const apiDeps: ApiDeps = {
    config: settings.config,
    ingestQueue,
    subscriptions,
    contacts,
    directory: new DynamoContactDirectory(stores.doc, settings.tableName),
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
  return { app: createApp(apiDeps), ...createWorkers(options, stores) };
}
