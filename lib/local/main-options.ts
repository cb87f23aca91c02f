import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import {
  type AppConfig,
  ConfigError,
  defaultAppConfig,
  parseAppConfigJson,
} from '../config/app-config.ts';
import type { LogLevel } from '../observability/logger.ts';
import { dataPaths } from './servers.ts';

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LEADSTAGE_DATA_DIR: z.string().min(1).default('.leadstage'),
  LEADSTAGE_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  LEADSTAGE_CONFIG: z.string().min(1).optional(),
  /** Seconds before a failed message is retried; the default suits real use, tests shorten it. */
  LEADSTAGE_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(43_200).default(30),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export interface MainOptions {
  port: number;
  host: string;
  dataDir: string;
  apiKey: string;
  /** Where the key came from, so start-up can say whether it was generated. */
  apiKeySource: 'env' | 'file' | 'generated';
  config: AppConfig;
  configSource: string;
  logLevel: LogLevel;
  visibilityTimeoutSeconds: number;
}

/** A new API key: `lsk_` + 32 random bytes, base64url. */
export function generateApiKey(): string {
  return `lsk_${randomBytes(32).toString('base64url')}`;
}

/** Reads the key kept in the data folder, or generates and keeps one (readable by the owner only). */
async function loadOrCreateApiKey(dataDir: string): Promise<{ apiKey: string; created: boolean }> {
  const file = dataPaths(dataDir).apiKey;
  try {
    return { apiKey: (await readFile(file, 'utf8')).trim(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const apiKey = generateApiKey();
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${apiKey}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { apiKey, created: true };
}

/** Parses the environment of `npm start` once; a bad value fails with the variable's name. */
export async function mainOptionsFromEnv(
  env: Record<string, string | undefined>,
): Promise<MainOptions> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  - ${issue.path.join('.')}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid environment:\n${lines.join('\n')}`, { cause: parsed.error });
  }
  const e = parsed.data;
  const dataDir = resolve(e.LEADSTAGE_DATA_DIR);
  let config = defaultAppConfig;
  let configSource = 'built-in default (form "contact")';
  if (e.LEADSTAGE_CONFIG !== undefined) {
    const file = resolve(e.LEADSTAGE_CONFIG);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `Cannot read LEADSTAGE_CONFIG file ${file}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    config = parseAppConfigJson(text, file);
    configSource = file;
  }
  let apiKey = e.LEADSTAGE_API_KEY;
  let apiKeySource: MainOptions['apiKeySource'] = 'env';
  if (apiKey === undefined) {
    const kept = await loadOrCreateApiKey(dataDir);
    apiKey = kept.apiKey;
    apiKeySource = kept.created ? 'generated' : 'file';
  }
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    apiKey,
    apiKeySource,
    config,
    configSource,
    logLevel: e.LOG_LEVEL,
    visibilityTimeoutSeconds: e.LEADSTAGE_VISIBILITY_TIMEOUT_SECONDS,
  };
}
