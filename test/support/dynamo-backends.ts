import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { ensureTable } from '../../lib/local/bootstrap.ts';
import { startLocalDynamo } from '../../lib/local/servers.ts';
import { makeTempDir } from './temp-dir.ts';

/** A DynamoDB-compatible server the store's integration suite runs against. */
export interface DynamoBackend {
  name: string;
  start(): Promise<{ endpoint: string; stop(): Promise<void> }>;
}

/** dynalite in this process, with its LevelDB in a fresh temp folder removed on stop. */
export const dynaliteBackend: DynamoBackend = {
  name: 'dynalite',
  async start() {
    const dir = await makeTempDir('leadstage-dynalite-');
    try {
      const server = await startLocalDynamo(dir.path);
      return {
        endpoint: server.endpoint,
        async stop() {
          await server.stop();
          await dir.remove();
        },
      };
    } catch (error) {
      await dir.remove();
      throw error;
    }
  },
};

/**
 * Every backend the store suite runs against, via `describe.each(dynamoBackends)`.
 * DynamoDB Local (AWS's jar) joins this list later.
 */
export const dynamoBackends: DynamoBackend[] = [dynaliteBackend];

/** Local servers accept any credentials; fixed ones keep the SDK from searching for real ones. */
export const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** A low-level and a document client for `endpoint`, configured as the pipeline configures them. */
export function dynamoClients(endpoint: string): {
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
} {
  const dynamo = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: localCredentials,
  });
  const doc = DynamoDBDocumentClient.from(dynamo, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { dynamo, doc };
}

/** Resolves once `tableName` is ACTIVE: item operations on a CREATING table fail. */
export async function waitForActive(
  dynamo: DynamoDBClient,
  tableName: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new Error(`table ${tableName} still ${Table?.TableStatus} after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The local bootstrap's ensureTable, then a wait until the table is usable. ensureTable
 * alone may resolve while the table is still CREATING (see test/integration/store/table.test.ts).
 */
export async function createTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  await ensureTable(dynamo, tableName);
  await waitForActive(dynamo, tableName);
}

export interface DynamoTable {
  endpoint: string;
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
}

/**
 * Starts `backend` before the enclosing suite, creates the table with the local bootstrap,
 * and tears both down after it. Returns an accessor usable inside tests and hooks.
 */
export function useDynamoTable(backend: DynamoBackend, tableName = 'leadstage'): () => DynamoTable {
  let table: DynamoTable | undefined;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const server = await backend.start();
    stop = server.stop;
    const { dynamo, doc } = dynamoClients(server.endpoint);
    await createTable(dynamo, tableName);
    table = { endpoint: server.endpoint, dynamo, doc, tableName };
  });
  afterAll(async () => {
    table?.dynamo.destroy();
    await stop?.();
  });
  return () => {
    if (table === undefined) throw new Error(`${backend.name} is not started`);
    return table;
  };
}
