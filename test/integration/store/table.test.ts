import { DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { ensureTable } from '../../../lib/local/bootstrap.ts';
import { DynamoSubscriptionStore } from '../../../lib/store/subscription-store.ts';
import { tableDefinition } from '../../../lib/store/table.ts';
import { dynamoBackends, useDynamoTable, waitForActive } from '../../support/dynamo-backends.ts';

describe.each(dynamoBackends)('ensureTable on $name', (backend) => {
  const table = useDynamoTable(backend, 'bootstrap');

  it('creates the table with the shared key schema', async () => {
    const { Table } = await table().dynamo.send(
      new DescribeTableCommand({ TableName: table().tableName }),
    );
    const expected = tableDefinition(table().tableName);
    expect(Table?.KeySchema).toStrictEqual(expected.KeySchema);
    const byName = (a: { AttributeName?: string }, b: { AttributeName?: string }) =>
      (a.AttributeName ?? '').localeCompare(b.AttributeName ?? '');
    expect([...(Table?.AttributeDefinitions ?? [])].sort(byName)).toStrictEqual(
      [...(expected.AttributeDefinitions ?? [])].sort(byName),
    );
    expect(
      (Table?.GlobalSecondaryIndexes ?? [])
        .map((index) => ({
          name: index.IndexName,
          keys: index.KeySchema,
          projection: index.Projection?.ProjectionType,
        }))
        .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '')),
    ).toStrictEqual(
      (expected.GlobalSecondaryIndexes ?? [])
        .map((index) => ({
          name: index.IndexName,
          keys: index.KeySchema,
          projection: index.Projection?.ProjectionType,
        }))
        .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '')),
    );
    expect(Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
  });

  // The runtime writes as soon as its bootstrap resolves, so the table must be usable then,
  // not merely created: an item operation on a CREATING table fails with
  // ResourceNotFoundException. Many fresh tables make a narrow race show reliably.
  it('resolves only once the new table accepts writes', async () => {
    const failures: string[] = [];
    for (let i = 0; i < 40; i++) {
      const tableName = `bootstrap-ready-${i}`;
      await ensureTable(table().dynamo, tableName);
      try {
        await table().dynamo.send(
          new PutItemCommand({
            TableName: tableName,
            Item: { pk: { S: 'CONTACT#ct_1' }, sk: { S: 'CONTACT' } },
          }),
        );
      } catch (error) {
        failures.push(`${tableName}: ${(error as Error).name}`);
      }
    }
    expect(failures).toStrictEqual([]);
  });

  it('is idempotent: running it again (twice) keeps the table and its data', async () => {
    const subscriptions = new DynamoSubscriptionStore(table().doc, table().tableName);
    const record = {
      id: 'sub_keep',
      url: 'https://crm.example.com/hooks',
      secret: 'whsec_c2VjcmV0',
      enabled: true,
      createdAt: '2025-03-01T10:00:00.000Z',
    };
    await subscriptions.put(record);

    await expect(ensureTable(table().dynamo, table().tableName)).resolves.toBeUndefined();
    await expect(ensureTable(table().dynamo, table().tableName)).resolves.toBeUndefined();

    await expect(subscriptions.get(record.id)).resolves.toStrictEqual(record);
  });

  it('running it concurrently for a new table does not fail', async () => {
    const tableName = 'bootstrap-concurrent';
    await Promise.all([
      ensureTable(table().dynamo, tableName),
      ensureTable(table().dynamo, tableName),
      ensureTable(table().dynamo, tableName),
    ]);
    await expect(waitForActive(table().dynamo, tableName)).resolves.toBeUndefined();
  });
});
