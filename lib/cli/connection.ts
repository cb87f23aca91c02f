import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, UsageError } from './errors.ts';

/** Where `leadstage start` listens unless PORT or HOST say otherwise (lib/local/main-options.ts). */
export const DEFAULT_URL = 'http://127.0.0.1:3000';
/** The local runtime's data folder unless LEADSTAGE_DATA_DIR says otherwise. */
const DEFAULT_DATA_DIR = '.leadstage';
/** The file in the data folder where the local runtime keeps its generated key (lib/local/servers.ts). */
const API_KEY_FILE = 'api-key';

export interface Connection {
  url: string;
  apiKey: string;
  /** Where the key came from, for messages. */
  apiKeySource: 'flag' | 'env' | 'file';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The API address and key: `--url` / `--api-key` first, then LEADSTAGE_URL / LEADSTAGE_API_KEY.
 * Against this machine, the key the local runtime generated and kept in its data folder is the
 * last resort, so `leadstage start` then any other command needs no setup.
 */
export function resolveConnection(
  flags: { url?: string | undefined; apiKey?: string | undefined },
  env: Record<string, string | undefined>,
  cwd: string,
): Connection {
  const url = flags.url ?? (env.LEADSTAGE_URL || undefined) ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`Not a URL: "${url}" (expected e.g. ${DEFAULT_URL}).`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`Not an http(s) URL: "${url}".`);
  }
  if (flags.apiKey !== undefined) return { url, apiKey: flags.apiKey, apiKeySource: 'flag' };
  if (env.LEADSTAGE_API_KEY) return { url, apiKey: env.LEADSTAGE_API_KEY, apiKeySource: 'env' };
  const keyFile = join(resolve(cwd, env.LEADSTAGE_DATA_DIR || DEFAULT_DATA_DIR), API_KEY_FILE);
  if (LOOPBACK_HOSTS.has(parsed.hostname)) {
    try {
      const kept = readFileSync(keyFile, 'utf8').trim();
      if (kept !== '') return { url, apiKey: kept, apiKeySource: 'file' };
    } catch {
      // No kept key: the message below says how to give one.
    }
  }
  throw new CliError(
    'No API key: pass --api-key or set LEADSTAGE_API_KEY' +
      (LOOPBACK_HOSTS.has(parsed.hostname)
        ? ` (for the local runtime it is also read from ${keyFile}, which does not exist here).`
        : '.'),
  );
}
