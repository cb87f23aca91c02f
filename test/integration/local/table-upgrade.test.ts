import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable, TableOutdatedError } from '../../../lib/local/bootstrap.ts';
import { type LocalServer, startLocalDynamo } from '../../../lib/local/servers.ts';
import { GLOBAL_INDEXES } from '../../../lib/store/table.ts';
import { makeTempDir } from '../../support/temp-dir.ts';

describe('ensureTable on a data folder from an older version', () => {
  let server: LocalServer;
  let dynamo: DynamoDBClient;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startLocalDynamo(dir.path);
    dynamo = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: server.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    dynamo?.destroy();
    await server?.stop();
    await dir?.remove();
  });

  it('refuses a table that lacks an index, naming it and saying what to do', async () => {
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'old',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    const refusal = ensureTable(dynamo, 'old');
    await expect(refusal).rejects.toBeInstanceOf(TableOutdatedError);
    await expect(refusal).rejects.toThrow(/"byStage".*LEADSTAGE_DATA_DIR/s);
  });

  it('accepts the current table definition, again and again', async () => {
    await ensureTable(dynamo, 'current');
    await ensureTable(dynamo, 'current');
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: 'current' }));
    expect((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort()).toEqual(
      GLOBAL_INDEXES.map((index) => index.IndexName).sort(),
    );
  });
});
