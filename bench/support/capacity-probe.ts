/**
 * Checks the capacity accounting the cost bench relies on: a few writes and reads whose AWS
 * price is known by the rules (bench/support/aws-capacity.ts), sent to dynalite and to
 * DynamoDB Local with `ReturnConsumedCapacity: INDEXES`, side by side.
 */
import {
  type AttributeValue,
  type ConsumedCapacity,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../../lib/local/bootstrap.ts';
import {
  dynaliteBackend,
  dynamoDbLocalBackend,
  localCredentials,
} from '../../test/support/dynamo-servers.ts';
import { indexWriteUnits, itemSize, tableWriteUnits } from './aws-capacity.ts';

type Item = Record<string, AttributeValue>;
const TABLE = 'probe';

const s = (value: string): AttributeValue => ({ S: value });
const filler = (bytes: number) => s('x'.repeat(bytes));
const base = (id: string, extra: Item = {}): Item => ({
  pk: s(`CONTACT#${id}`),
  sk: s('CONTACT'),
  ...extra,
});
const staged = (id: string, stageAt: string, extra: Item = {}) =>
  base(id, {
    gsi1pk: s('STAGE#lead'),
    gsi1sk: s(stageAt),
    stage: s('lead'),
    facts: filler(300),
    ...extra,
  });

interface Probe {
  name: string;
  /** AWS's units for it, by the rules. */
  aws: number;
  run(client: DynamoDBClient): Promise<ConsumedCapacity | ConsumedCapacity[] | undefined>;
}

const put = (item: Item) => (client: DynamoDBClient) =>
  client
    .send(new PutItemCommand({ TableName: TABLE, Item: item, ReturnConsumedCapacity: 'INDEXES' }))
    .then((r) => r.ConsumedCapacity);
const update = (key: Item, expression: string, values: Item) => async (client: DynamoDBClient) =>
  (
    await client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key,
        UpdateExpression: expression,
        ExpressionAttributeValues: values,
        ReturnConsumedCapacity: 'INDEXES',
      }),
    )
  ).ConsumedCapacity;
const get = (key: Item, consistent: boolean) => async (client: DynamoDBClient) =>
  (
    await client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: key,
        ConsistentRead: consistent,
        ReturnConsumedCapacity: 'INDEXES',
      }),
    )
  ).ConsumedCapacity;
const keyOf = (item: Item): Item => ({
  pk: item.pk as AttributeValue,
  sk: item.sk as AttributeValue,
});

function probes(): Probe[] {
  const small = base('small', { email: s('anna@example.com'), facts: filler(200) });
  const big = base('big', { facts: filler(2500) });
  const indexed = staged('indexed', '2026-11-26T10:00:00Z');
  const movedKey = staged('indexed', '2026-11-26T11:00:00Z');
  const fiveKb = base('five', { facts: filler(5000) });
  const tx = [base('tx-1', { facts: filler(200) }), base('tx-2', { facts: filler(200) })];
  const withNote = { ...movedKey, note: s('not projected') };
  const withStage = { ...withNote, stage: s('prospect') };
  return [
    {
      name: 'PutItem, 0.3 KB, no index key',
      aws: tableWriteUnits(undefined, small),
      run: put(small),
    },
    { name: 'PutItem, 2.5 KB, no index key', aws: tableWriteUnits(undefined, big), run: put(big) },
    {
      name: 'PutItem, 0.4 KB, byStage index key',
      aws: tableWriteUnits(undefined, indexed) + indexWriteUnits(undefined, indexed),
      run: put(indexed),
    },
    {
      name: 'UpdateItem, index sort key changed',
      aws: tableWriteUnits(indexed, movedKey) + indexWriteUnits(indexed, movedKey),
      run: update(keyOf(indexed), 'SET gsi1sk = :v', { ':v': movedKey.gsi1sk as AttributeValue }),
    },
    {
      name: 'UpdateItem, unprojected attribute',
      aws: tableWriteUnits(movedKey, withNote) + indexWriteUnits(movedKey, withNote),
      run: update(keyOf(indexed), 'SET note = :v', { ':v': s('not projected') }),
    },
    {
      name: 'UpdateItem, projected attribute',
      aws: tableWriteUnits(withNote, withStage) + indexWriteUnits(withNote, withStage),
      run: update(keyOf(indexed), 'SET stage = :v', { ':v': s('prospect') }),
    },
    {
      name: 'TransactWriteItems, two 0.2 KB puts',
      aws: tx.reduce((sum, item) => sum + 2 * tableWriteUnits(undefined, item), 0),
      run: async (client) =>
        (
          await client.send(
            new TransactWriteItemsCommand({
              TransactItems: tx.map((item) => ({ Put: { TableName: TABLE, Item: item } })),
              ReturnConsumedCapacity: 'INDEXES',
            }),
          )
        ).ConsumedCapacity,
    },
    {
      name: 'PutItem, 5 KB (for the reads)',
      aws: tableWriteUnits(undefined, fiveKb),
      run: put(fiveKb),
    },
    {
      name: 'GetItem, 5 KB, eventually consistent',
      aws: Math.ceil(itemSize(fiveKb) / 4096) / 2,
      run: get(keyOf(fiveKb), false),
    },
    {
      name: 'GetItem, 5 KB, strongly consistent',
      aws: Math.ceil(itemSize(fiveKb) / 4096),
      run: get(keyOf(fiveKb), true),
    },
    { name: 'GetItem, missing, eventually consistent', aws: 0.5, run: get(base('none'), false) },
  ];
}

const total = (consumed: ConsumedCapacity | ConsumedCapacity[] | undefined) =>
  (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
    (sum, entry) => sum + (entry.CapacityUnits ?? 0),
    0,
  );

async function runProbes(endpoint: string): Promise<(number | string)[]> {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: localCredentials,
    maxAttempts: 1,
  });
  try {
    await ensureTable(client, TABLE);
    const results: (number | string)[] = [];
    for (const probe of probes()) {
      try {
        results.push(total(await probe.run(client)));
      } catch (error) {
        results.push(`error: ${(error as Error).name}`);
      }
    }
    return results;
  } finally {
    client.destroy();
  }
}

/** Each probe with AWS's units and what each emulator reported. */
export async function compareCapacity(): Promise<{
  rows: { name: string; aws: number; dynalite: number | string; dynamoDbLocal: number | string }[];
  dynamoDbLocalError?: string;
}> {
  const dynalite = await dynaliteBackend.start();
  let dynaliteResults: (number | string)[];
  try {
    dynaliteResults = await runProbes(dynalite.endpoint);
  } finally {
    await dynalite.stop();
  }
  let localResults: (number | string)[] | undefined;
  let dynamoDbLocalError: string | undefined;
  try {
    const local = await dynamoDbLocalBackend.start();
    try {
      localResults = await runProbes(local.endpoint);
    } finally {
      await local.stop();
    }
  } catch (error) {
    dynamoDbLocalError = (error as Error).message;
  }
  const rows = probes().map((probe, i) => ({
    name: probe.name,
    aws: probe.aws,
    dynalite: dynaliteResults[i] ?? '',
    dynamoDbLocal: localResults?.[i] ?? 'not run',
  }));
  return { rows, ...(dynamoDbLocalError ? { dynamoDbLocalError } : {}) };
}
