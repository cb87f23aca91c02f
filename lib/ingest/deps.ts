import type { AppConfig } from '../config/app-config.ts';
import type { Resolver } from '../delivery/target-guard.ts';
import type { Logger } from '../observability/logger.ts';
import type { DeadLetterQueue } from '../queue/dead-letter-queue.ts';
import type { MessageQueue } from '../queue/message-queue.ts';
import type { ContactDirectory } from '../store/contact-directory.ts';
import type { ContactStore } from '../store/contact-store.ts';
import type { DeliveryStore } from '../store/delivery-store.ts';
import type { FunnelStore } from '../store/funnel-store.ts';
import type { HistoryStore } from '../store/history-store.ts';
import type { SubscriptionStore } from '../store/subscription-store.ts';
import type { EmailProviderAdapter, ProviderContext } from './email/types.ts';

/** What the HTTP app needs; built once by the local runtime or the Lambda entry point. */
export interface ApiDeps {
  config: AppConfig;
  ingestQueue: MessageQueue;
  subscriptions: SubscriptionStore;
  contacts: ContactStore;
  directory: ContactDirectory;
  history: HistoryStore;
  deliveries: DeliveryStore;
  /** The funnel counters (read by `GET /v1/funnel`, moved by erasure). */
  funnel: FunnelStore;
  /** Where erasure notices (`contact.erased`) are queued for delivery. */
  deliveryQueue: MessageQueue;
  /**
   * The dead-letter queues the admin API lists and redrives: the ingest DLQ back to
   * `ingestQueue`, the delivery DLQ back to `deliveryQueue`. Absent ones are not offered.
   */
  deadLetterQueues?: { ingest?: DeadLetterQueue; delivery?: DeadLetterQueue };
  /** The source queues' maxReceiveCount: how often a message SQS parked without a reason failed. */
  maxReceiveCount?: number;
  /** SHA-256 hex digests of the accepted API keys. */
  apiKeyHashes: readonly string[];
  /** Local mode: subscriptions may target plain http and loopback. */
  allowLocalWebhookTargets: boolean;
  /** Resolves webhook host names for the SSRF check; the system resolver unless a test injects one. */
  webhookResolver?: Resolver;
  /** The configured email providers, by route name. */
  emailAdapters: ReadonlyMap<string, EmailProviderAdapter>;
  /** Clock, replay guard and fetcher the adapters use (injectable for tests). */
  providerContext: ProviderContext;
  now: () => Date;
  logger: Logger;
}
