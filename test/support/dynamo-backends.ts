import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { ensureTable } from '../../lib/local/bootstrap.ts';
import {
  type DynamoBackend,
  dynaliteBackend,
  dynamoDbLocalBackend,
  localCredentials,
} from './dynamo-servers.ts';

export { type DynamoBackend, dynaliteBackend, dynamoDbLocalBackend, localCredentials };

const allBackends: DynamoBackend[] = [dynaliteBackend, dynamoDbLocalBackend];

/**
 * The backends named in LEADSTAGE_DYNAMO_BACKENDS (comma-separated), default all of them.
 * Without Java, run `LEADSTAGE_DYNAMO_BACKENDS=dynalite npm test`; CI runs both.
 */
function selectBackends(value: string | undefined): DynamoBackend[] {
  if (value === undefined || value.trim() === '') return allBackends;
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const known = allBackends.map((backend) => backend.name);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `LEADSTAGE_DYNAMO_BACKENDS names unknown backends: ${unknown.join(', ')} ` +
        `(known: ${known.join(', ')})`,
    );
  }
  return allBackends.filter((backend) => names.includes(backend.name));
}

/**
 * Every backend the store suite runs against, via `describe.each(dynamoBackends)`: dynalite
 * (the local runtime's DynamoDB) and DynamoDB Local (AWS's emulator, for fidelity).
 * Select with LEADSTAGE_DYNAMO_BACKENDS, e.g. `LEADSTAGE_DYNAMO_BACKENDS=dynalite npm test`
 * on a machine without Java. Each suite starts one server per backend for its whole file.
 */
export const dynamoBackends: DynamoBackend[] = selectBackends(
  process.env.LEADSTAGE_DYNAMO_BACKENDS,
);

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
