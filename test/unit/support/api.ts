import type { ClassifyDeps } from '../../../lib/classify/apply-event.ts';
import { type AppConfig, defaultAppConfig } from '../../../lib/config/app-config.ts';
import type { Resolver } from '../../../lib/delivery/target-guard.ts';
import { hashApiKey } from '../../../lib/ingest/api-key-auth.ts';
import { createApp } from '../../../lib/ingest/app.ts';
import type { ApiDeps } from '../../../lib/ingest/deps.ts';
import { createEmailAdapters } from '../../../lib/ingest/email/adapters.ts';
import { providersConfigSchema } from '../../../lib/ingest/email/providers-config.ts';
import { MemoryReplayGuard } from '../../../lib/ingest/email/replay-guard.ts';
import type { Logger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import {
  MemoryContactStore,
  MemoryDeliveryStore,
  MemoryFunnelStore,
  MemoryHistoryStore,
  MemoryMessageIndexStore,
  MemorySubscriptionStore,
} from '../../../lib/store/memory-stores.ts';

export const API_KEY = 'lsk_test-key-0123456789abcdef';

/** A logger that records error entries, so a test can assert that nothing failed inside. */
export function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return {
    errors,
    debug() {},
    info() {},
    warn() {},
    error(message) {
      errors.push(message);
    },
  };
}

/** The fixed clock of testApi (the form fill-time check and occurredAt defaults use it). */
export const TEST_NOW = new Date('2025-03-01T12:00:00.000Z');

export interface TestApiOptions {
  config?: AppConfig;
  allowLocal?: boolean;
  /**
   * Email providers to configure (as in the config file's `providers`), replacing those of
   * `config`; e.g. `{ generic: { secret: 'whsec_...' } }`.
   */
  providers?: unknown;
  /** Resolves webhook hosts for the SSRF check; a public address for every name unless given. */
  resolver?: Resolver;
  /** The app's clock; TEST_NOW unless given. */
  now?: () => Date;
}

/** The HTTP app on memory adapters, with handles on everything a test inspects. */
export function testApi(options: TestApiOptions = {}) {
  const ingestQueue = new MemoryQueue();
  const deliveryQueue = new MemoryQueue();
  const subscriptions = new MemorySubscriptionStore();
  const history = new MemoryHistoryStore();
  const deliveries = new MemoryDeliveryStore();
  const messages = new MemoryMessageIndexStore();
  const contacts = new MemoryContactStore([history, deliveries, messages]);
  const funnel = new MemoryFunnelStore();
  const logger = recordingLogger();
  const baseConfig = options.config ?? defaultAppConfig;
  const config: AppConfig =
    options.providers === undefined
      ? baseConfig
      : { ...baseConfig, providers: providersConfigSchema.parse(options.providers) };
  const now = options.now ?? (() => new Date(TEST_NOW));
  const deps: ApiDeps = {
    config,
    ingestQueue,
    subscriptions,
    contacts,
    directory: contacts,
    history,
    deliveries,
    funnel,
    deliveryQueue,
    apiKeyHashes: [hashApiKey(API_KEY)],
    allowLocalWebhookTargets: options.allowLocal ?? false,
    // No DNS here: every host name resolves to a public documentation-free address unless a test says otherwise.
    webhookResolver: options.resolver ?? (async () => [{ address: '93.184.216.34', family: 4 }]),
    emailAdapters: createEmailAdapters(config.providers),
    providerContext: {
      now,
      replayGuard: new MemoryReplayGuard(),
      fetchText: async (url: string) => {
        throw new Error(`no network in unit tests: ${url}`);
      },
    },
    now,
    logger,
  };
  return {
    app: createApp(deps),
    ingestQueue,
    deliveryQueue,
    subscriptions,
    contacts,
    history,
    deliveries,
    messages,
    funnel,
    logger,
    deps,
  };
}

export const auth = { authorization: `Bearer ${API_KEY}` };

/** A JSON POST request init. */
export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** An authenticated JSON PATCH (the API key of testApi). */
export function patchJson(body: unknown): RequestInit {
  return {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(body),
  };
}

/**
 * Classify deps on the memory stores of a testApi, so events applied with them show in the
 * contacts API (and erasing through the API erases what they stored). `now` defaults to the
 * app's clock; pass a changing clock to spread stage changes over time.
 */
export function classifyDepsFor(
  api: ReturnType<typeof testApi>,
  now: () => Date = api.deps.now,
): ClassifyDeps {
  return {
    config: api.deps.config,
    contacts: api.contacts,
    subscriptions: api.subscriptions,
    deliveries: api.deliveries,
    deliveryQueue: api.deliveryQueue,
    messages: api.messages,
    history: api.history,
    funnel: api.funnel,
    now,
    logger: api.logger,
  };
}
