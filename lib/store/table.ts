import type { CreateTableCommandInput, GlobalSecondaryIndex } from '@aws-sdk/client-dynamodb';
import { INDEX } from './keys.ts';

/**
 * What a delivery list shows of a delivery item: the bySubscription index projects these, and
 * a contact's delivery list reads the same from the table.
 */
export const DELIVERY_SUMMARY_ATTRIBUTES = [
  'deliveryId',
  'contactId',
  'subscriptionId',
  'eventType',
  'status',
  'attemptCount',
  'lastAttempt',
  'createdAt',
  'deliveredAt',
] as const;

/**
 * The global secondary indexes. Each projects only what its list shows, so large items
 * (a contact's facts, a delivery's payload) are not written twice.
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
  {
    IndexName: INDEX.bySubscription,
    KeySchema: [
      { AttributeName: 'gsi2pk', KeyType: 'HASH' },
      { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
    ],
    Projection: {
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: [...DELIVERY_SUMMARY_ATTRIBUTES],
    },
  },
  {
    IndexName: INDEX.pendingDeliveries,
    KeySchema: [
      { AttributeName: 'gsi3pk', KeyType: 'HASH' },
      { AttributeName: 'gsi3sk', KeyType: 'RANGE' },
    ],
    Projection: {
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: ['deliveryId', 'contactId', 'subscriptionId', 'status'],
    },
  },
  {
    IndexName: INDEX.stageChanges,
    KeySchema: [
      { AttributeName: 'gsi4pk', KeyType: 'HASH' },
      { AttributeName: 'gsi4sk', KeyType: 'RANGE' },
    ],
    Projection: {
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: [
        'contactId',
        'email',
        'summary',
        'sequence',
        'from',
        'to',
        'direction',
        'reasons',
        'missing',
        'at',
        'causedBy',
      ],
    },
  },
  {
    IndexName: INDEX.flagsDue,
    KeySchema: [
      { AttributeName: 'gsi5pk', KeyType: 'HASH' },
      { AttributeName: 'gsi5sk', KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['contactId'] },
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
      { AttributeName: 'gsi2pk', AttributeType: 'S' },
      { AttributeName: 'gsi2sk', AttributeType: 'S' },
      { AttributeName: 'gsi3pk', AttributeType: 'S' },
      { AttributeName: 'gsi3sk', AttributeType: 'S' },
      { AttributeName: 'gsi4pk', AttributeType: 'S' },
      { AttributeName: 'gsi4sk', AttributeType: 'S' },
      { AttributeName: 'gsi5pk', AttributeType: 'S' },
      { AttributeName: 'gsi5sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: GLOBAL_INDEXES,
  };
}
