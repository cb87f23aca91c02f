import type { CreateTableCommandInput, GlobalSecondaryIndex } from '@aws-sdk/client-dynamodb';
import { INDEX } from './keys.ts';

/**
 * The global secondary indexes. `byStage` projects only what a list of contacts shows,
 * so the contact's facts are not written twice.
 */
export const GLOBAL_INDEXES: GlobalSecondaryIndex[] = [
  {
    IndexName: INDEX.byStage,
    KeySchema: [
      { AttributeName: 'gsi1pk', KeyType: 'HASH' },
      { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
    ],
    Projection: {
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: [
        'contactId',
        'email',
        'stage',
        'stageChangedAt',
        'summary',
        'flags',
        'qualification',
      ],
    },
  },
];

/** The single table's key schema and indexes; the CDK stack declares the same. */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' },
      { AttributeName: 'gsi1sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: GLOBAL_INDEXES,
  };
}
