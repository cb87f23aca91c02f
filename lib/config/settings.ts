import { z } from 'zod';
import { hashApiKey } from '../ingest/api-key-auth.ts';
import { type AppConfig, ConfigError, parseAppConfig } from './app-config.ts';

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
  /** The source queues' maxReceiveCount (how often a message fails before SQS parks it). */
  maxReceiveCount?: number;
  /** SHA-256 hex digests of the accepted API keys; the keys themselves are never kept. */
  apiKeyHashes: string[];
  config: AppConfig;
  /**
   * Local mode only: lets subscriptions target plain http and loopback addresses, so a
   * receiver on the same machine works. Always false on AWS.
   */
  allowLocalWebhookTargets: boolean;
}

const lambdaEnvSchema = z.object({
  TABLE_NAME: z.string().min(1),
  INGEST_QUEUE_URL: z.url(),
  DELIVERY_QUEUE_URL: z.url(),
  INGEST_DLQ_URL: z.url().optional(),
  DELIVERY_DLQ_URL: z.url().optional(),
  MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).max(1000).optional(),
  LEADSTAGE_CONFIG_JSON: z.string().optional(),
  /** Secrets Manager: the API keys (one key, or {"keys": [...]}). Only the api function has it. */
  LEADSTAGE_API_KEYS_SECRET_ARN: z.string().min(1).optional(),
  /** Secrets Manager: the config's `providers` section (email-provider credentials). */
  LEADSTAGE_PROVIDERS_SECRET_ARN: z.string().min(1).optional(),
});

/** Reads a secret's string; injectable so the loading is tested without AWS. */
export type SecretReader = (secretId: string) => Promise<string>;

const apiKeysSecretSchema = z.union([
  z.object({ keys: z.array(z.string().min(16)).min(1) }).transform((value) => value.keys),
  z
    .string()
    .min(16)
    .transform((key) => [key]),
]);

/** The accepted API keys from the secret's text: one key, or JSON `{"keys": [...]}` (rotation). */
export function apiKeysFromSecret(text: string): string[] {
  let document: unknown = text.trim();
  if ((document as string).startsWith('{')) {
    try {
      document = JSON.parse(document as string);
    } catch (error) {
      throw new ConfigError('The API keys secret is not valid JSON.', { cause: error });
    }
  }
  const parsed = apiKeysSecretSchema.safeParse(document);
  if (!parsed.success) {
    throw new ConfigError(
      'The API keys secret must hold one key of 16+ characters or {"keys": [...]}.',
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}

/**
 * Reads the Lambda environment and the secrets it names, once, at cold start; throws
 * naming the missing variable or the bad field. Keys are hashed here and never kept.
 */
export async function settingsFromLambdaEnv(
  env: Record<string, string | undefined>,
  readSecret: SecretReader,
): Promise<Settings> {
  const parsed = lambdaEnvSchema.parse(env);
  const document: Record<string, unknown> =
    parsed.LEADSTAGE_CONFIG_JSON === undefined
      ? {}
      : (parseJson(parsed.LEADSTAGE_CONFIG_JSON, 'LEADSTAGE_CONFIG_JSON') as Record<
          string,
          unknown
        >);
  if (parsed.LEADSTAGE_PROVIDERS_SECRET_ARN !== undefined) {
    document.providers = parseJson(
      await readSecret(parsed.LEADSTAGE_PROVIDERS_SECRET_ARN),
      'the providers secret',
    );
  }
  const apiKeyHashes =
    parsed.LEADSTAGE_API_KEYS_SECRET_ARN === undefined
      ? []
      : apiKeysFromSecret(await readSecret(parsed.LEADSTAGE_API_KEYS_SECRET_ARN)).map(hashApiKey);
  return {
    tableName: parsed.TABLE_NAME,
    ingestQueueUrl: parsed.INGEST_QUEUE_URL,
    deliveryQueueUrl: parsed.DELIVERY_QUEUE_URL,
    ...(parsed.INGEST_DLQ_URL ? { ingestDlqUrl: parsed.INGEST_DLQ_URL } : {}),
    ...(parsed.DELIVERY_DLQ_URL ? { deliveryDlqUrl: parsed.DELIVERY_DLQ_URL } : {}),
    ...(parsed.MAX_RECEIVE_COUNT === undefined
      ? {}
      : { maxReceiveCount: parsed.MAX_RECEIVE_COUNT }),
    apiKeyHashes,
    config: parseAppConfig(document, 'LEADSTAGE_CONFIG_JSON and the providers secret'),
    allowLocalWebhookTargets: false,
  };
}

function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Invalid config in ${origin}: not valid JSON`, { cause: error });
  }
}
