import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** What AWS calls cost: requests per service operation, and DynamoDB's consumed capacity. */
export interface Usage {
  /** e.g. `DynamoDB.PutItem: 2`, `SQS.SendMessage: 1`. */
  requests: Record<string, number>;
  readCapacityUnits: number;
  writeCapacityUnits: number;
}

/**
 * Counts AWS requests and DynamoDB consumed capacity through SDK middleware, without any
 * change to the code that makes the calls. The bench prices a million events from it.
 */
export class UsageMeter {
  #usage: Usage = { requests: {}, readCapacityUnits: 0, writeCapacityUnits: 0 };

  count(operation: string): void {
    this.#usage.requests[operation] = (this.#usage.requests[operation] ?? 0) + 1;
  }

  addCapacity(read: number, write: number): void {
    this.#usage.readCapacityUnits += read;
    this.#usage.writeCapacityUnits += write;
  }

  /** The usage so far (a copy). */
  snapshot(): Usage {
    return structuredClone(this.#usage);
  }

  reset(): void {
    this.#usage = { requests: {}, readCapacityUnits: 0, writeCapacityUnits: 0 };
  }
}

/** Item operations that accept ReturnConsumedCapacity. */
const CAPACITY_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);

interface CapacityEntry {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

const operationOf = (commandName: string | undefined) =>
  (commandName ?? 'Unknown').replace(/Command$/, '');

/** Meters every request of this DynamoDB client (and of Document clients built on it). */
export function meterDynamo(client: DynamoDBClient, meter: UsageMeter): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = operationOf(context.commandName);
      meter.count(`DynamoDB.${operation}`);
      const input = args.input as { ReturnConsumedCapacity?: string };
      if (CAPACITY_OPERATIONS.has(operation) && input.ReturnConsumedCapacity === undefined) {
        input.ReturnConsumedCapacity = 'TOTAL';
      }
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: CapacityEntry | CapacityEntry[] })
        .ConsumedCapacity;
      for (const entry of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
        const read = entry.ReadCapacityUnits ?? 0;
        const write = entry.WriteCapacityUnits ?? 0;
        // Some answers give only the total: a read operation's total is reads, else writes.
        const total = entry.CapacityUnits ?? 0;
        const readsOnly = /^(Get|Query|Scan|BatchGet|TransactGet)/.test(operation);
        meter.addCapacity(read || (readsOnly ? total : 0), write || (readsOnly ? 0 : total));
      }
      return result;
    },
    { step: 'initialize', name: 'leadstageUsageMeter' },
  );
}

/** Meters every request of this SQS client. */
export function meterSqs(client: SQSClient, meter: UsageMeter): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      meter.count(`SQS.${operationOf(context.commandName)}`);
      return next(args);
    },
    { step: 'initialize', name: 'leadstageUsageMeter' },
  );
}
