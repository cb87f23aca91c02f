import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';

/** An in-process server speaking an AWS wire protocol on loopback. */
export interface LocalServer {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts dynalite (DynamoDB's wire protocol) with its LevelDB under `dir`. The emulated
 * provisioning delays are zero (they buy nothing locally); a new table still passes
 * through CREATING, so `ensureTable` waits for ACTIVE.
 */
export async function startLocalDynamo(dir: string): Promise<LocalServer> {
  await mkdir(dir, { recursive: true });
  const server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections();
      // dynalite's close also closes its LevelDB, releasing the lock for the next start.
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** Starts fauxqs (SQS's wire protocol) with its SQLite under `dir`: messages survive a crash. */
export async function startLocalSqs(dir: string): Promise<LocalServer> {
  await mkdir(dir, { recursive: true });
  const server = await startFauxqs({ port: 0, host: 'localhost', logger: false, dataDir: dir });
  return {
    endpoint: server.address,
    stop: () => server.stop(),
  };
}

export function dataPaths(dataDir: string) {
  return {
    dynamo: join(dataDir, 'dynamodb'),
    sqs: join(dataDir, 'sqs'),
    apiKey: join(dataDir, 'api-key'),
  };
}
