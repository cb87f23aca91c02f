import { z } from 'zod';
import { type AppConfig, defaultAppConfig, parseAppConfigJson } from './app-config.ts';

/**
 * What every handler needs to run, wherever it runs: resource names, the deployment's
 * config and the accepted API key hashes. Built once at start-up and passed in.
 */
export interface Settings {
  tableName: string;
  ingestQueueUrl: string;
  deliveryQueueUrl: string;
  /** Dead-letter queues: unreadable messages are parked there at once, with the reason. */
  ingestDlqUrl?: string;
  deliveryDlqUrl?: string;
  /** SHA-256 hex digests of the accepted API keys; the keys themselves are never kept. */
  apiKeyHashes: string[];
  config: AppConfig;
  /**
   * Local mode only: lets subscriptions target plain http and loopback addresses, so a
   * receiver on the same machine works. Always false on AWS.
   */
  allowLocalWebhookTargets: boolean;
}

const sha256Hex = /^[0-9a-f]{64}$/;

const lambdaEnvSchema = z.object({
  TABLE_NAME: z.string().min(1),
  INGEST_QUEUE_URL: z.url(),
  DELIVERY_QUEUE_URL: z.url(),
  INGEST_DLQ_URL: z.url().optional(),
  DELIVERY_DLQ_URL: z.url().optional(),
  LEADSTAGE_CONFIG_JSON: z.string().optional(),
  LEADSTAGE_API_KEY_HASHES: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(sha256Hex, 'each entry must be a SHA-256 hex digest'))),
});

/** Reads the Lambda environment once, at cold start; throws naming the missing variable. */
export function settingsFromLambdaEnv(env: Record<string, string | undefined>): Settings {
  const parsed = lambdaEnvSchema.parse(env);
  return {
    tableName: parsed.TABLE_NAME,
    ingestQueueUrl: parsed.INGEST_QUEUE_URL,
    deliveryQueueUrl: parsed.DELIVERY_QUEUE_URL,
    ...(parsed.INGEST_DLQ_URL ? { ingestDlqUrl: parsed.INGEST_DLQ_URL } : {}),
    ...(parsed.DELIVERY_DLQ_URL ? { deliveryDlqUrl: parsed.DELIVERY_DLQ_URL } : {}),
    apiKeyHashes: parsed.LEADSTAGE_API_KEY_HASHES,
    config:
      parsed.LEADSTAGE_CONFIG_JSON === undefined
        ? defaultAppConfig
        : parseAppConfigJson(parsed.LEADSTAGE_CONFIG_JSON, 'LEADSTAGE_CONFIG_JSON'),
    allowLocalWebhookTargets: false,
  };
}
