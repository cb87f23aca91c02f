/**
 * DynamoDB write capacity as AWS bills it, recomputed from the items themselves, because
 * the emulators do not: dynalite reports the base-table write only (no global secondary
 * index writes) and has no transactions at all. Reads are left to the emulator: dynalite's
 * read rules (4 KB units, half for eventually consistent, a Query's items summed before
 * rounding, a miss costing one unit) are AWS's.
 *
 * AWS's rules applied here (DynamoDB Developer Guide, "Read/write capacity mode" and
 * "Global secondary indexes: provisioned throughput considerations"):
 * - a write costs 1 unit per started KB of the larger of the item before and after;
 * - a failed conditional write still costs the existing item's size (at least 1 unit);
 * - each global secondary index whose entry is added, removed or whose projected attributes
 *   change costs 1 unit per started KB of the index entry; a changed index key costs two
 *   (a delete and a put); an update touching only unprojected attributes costs nothing there;
 * - a transaction writes every item twice (prepare, commit): twice the base-table units.
 *   Index writes are propagated after the commit and are counted once (an assumption).
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GLOBAL_INDEXES, tableDefinition } from '../../lib/store/table.ts';

type Item = Record<string, AttributeValue>;

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** A number's stored size: about one byte per two significant digits, plus one. */
function numberSize(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/e.*$/i, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

/** The size of one attribute value by AWS's item-size rules. */
export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.byteLength, 0);
  // Lists and maps: 3 bytes, plus 1 byte per element.
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + 1 + valueSize(v), 0);
  if (value.M !== undefined) {
    return 3 + Object.entries(value.M).reduce((sum, [k, v]) => sum + 1 + utf8(k) + valueSize(v), 0);
  }
  return 0;
}

/** An item's size by AWS's rules: attribute names plus values. */
export function itemSize(item: Item): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + utf8(name) + valueSize(value),
    0,
  );
}

const kb = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

const definition = tableDefinition('capacity');
const TABLE_KEYS = (definition.KeySchema ?? []).map((key) => key.AttributeName as string);

/** The entry an item has in an index (keys and projected attributes), if it is in it. */
function indexEntry(item: Item | undefined, index: (typeof GLOBAL_INDEXES)[number]) {
  if (item === undefined) return undefined;
  const indexKeys = (index.KeySchema ?? []).map((key) => key.AttributeName as string);
  if (indexKeys.some((name) => item[name] === undefined)) return undefined;
  const projection = index.Projection?.ProjectionType ?? 'ALL';
  if (projection === 'ALL') return item;
  const names = new Set([
    ...TABLE_KEYS,
    ...indexKeys,
    ...(projection === 'INCLUDE' ? (index.Projection?.NonKeyAttributes ?? []) : []),
  ]);
  return Object.fromEntries(Object.entries(item).filter(([name]) => names.has(name)));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Write units on the indexes for one item going from `before` to `after`. */
export function indexWriteUnits(before: Item | undefined, after: Item | undefined): number {
  let units = 0;
  for (const index of GLOBAL_INDEXES) {
    const old = indexEntry(before, index);
    const next = indexEntry(after, index);
    if (old === undefined && next === undefined) continue;
    if (old === undefined || next === undefined) {
      units += kb(itemSize((old ?? next) as Item));
      continue;
    }
    const keyNames = (index.KeySchema ?? []).map((key) => key.AttributeName as string);
    const keyChanged = keyNames.some((name) => !same(old[name], next[name]));
    if (keyChanged) units += kb(itemSize(old)) + kb(itemSize(next));
    else if (!same(sortedEntries(old), sortedEntries(next))) units += kb(itemSize(next));
  }
  return units;
}

const sortedEntries = (item: Item) =>
  Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Write units on the base table for one item going from `before` to `after`. */
export function tableWriteUnits(before: Item | undefined, after: Item | undefined): number {
  return Math.max(kb(before ? itemSize(before) : 0), kb(after ? itemSize(after) : 0));
}

/** AWS-rule write units summed over the writes seen since the last reset. */
export interface WriteLedger {
  tableUnits: number;
  indexUnits: number;
  /** Writes inside TransactWriteItems (their table units are already doubled above). */
  transactionalItems: number;
  failedConditionalWrites: number;
  /**
   * The same, by kind of item (`CONTACT/CONTACT`, `CONTACT/TIMELINE`, ...: the key prefixes
   * before the first `#`): how many writes, and their table and index units.
   */
  byItem: Record<string, { writes: number; tableUnits: number; indexUnits: number }>;
}

const emptyLedger = (): WriteLedger => ({
  tableUnits: 0,
  indexUnits: 0,
  transactionalItems: 0,
  failedConditionalWrites: 0,
  byItem: {},
});

/** `CONTACT#ct_1` + `TIMELINE#2026...` -> `CONTACT/TIMELINE`. */
function itemKind(key: Item): string {
  return TABLE_KEYS.map((name) => (key[name]?.S ?? '?').split('#')[0]).join('/');
}

interface Target {
  table: string;
  key: Item;
  transactional: boolean;
}

function keyOf(item: Item): Item {
  return Object.fromEntries(TABLE_KEYS.map((name) => [name, item[name] as AttributeValue]));
}

/** The items one write request touches. */
function targetsOf(operation: string, input: Record<string, unknown>): Target[] {
  const one = (table: unknown, key: Item, transactional = false): Target => ({
    table: table as string,
    key,
    transactional,
  });
  switch (operation) {
    case 'PutItem':
      return [one(input.TableName, keyOf(input.Item as Item))];
    case 'UpdateItem':
    case 'DeleteItem':
      return [one(input.TableName, input.Key as Item)];
    case 'BatchWriteItem':
      return Object.entries(
        input.RequestItems as Record<string, Record<string, unknown>[]>,
      ).flatMap(([table, requests]) =>
        requests.map((request) => {
          const put = request.PutRequest as { Item: Item } | undefined;
          const del = request.DeleteRequest as { Key: Item } | undefined;
          return one(table, put ? keyOf(put.Item) : (del?.Key as Item));
        }),
      );
    case 'TransactWriteItems':
      return (input.TransactItems as Record<string, Record<string, unknown>>[]).map((entry) => {
        const [kind, action] = Object.entries(entry)[0] as [string, Record<string, unknown>];
        const key = kind === 'Put' ? keyOf(action.Item as Item) : (action.Key as Item);
        return one(action.TableName, key, true);
      });
    default:
      return [];
  }
}

const WRITE_COMMANDS = [
  PutItemCommand,
  UpdateItemCommand,
  DeleteItemCommand,
  BatchWriteItemCommand,
  TransactWriteItemsCommand,
];

type ResolveMiddleware = (this: unknown, stack: unknown, ...rest: unknown[]) => unknown;
interface MiddlewareStackLike {
  add(middleware: unknown, options: Record<string, unknown>): void;
}

/**
 * Installs the ledger on every DynamoDB write command of this process, including those the
 * local runtime's own clients send (the runtime keeps its clients to itself). Each write is
 * bracketed by consistent reads of the items it touches, through `reader`, a client that is
 * not metered. Returns the ledger's controls.
 */
export function installWriteLedger() {
  let ledger = emptyLedger();
  let reader: DynamoDBClient | undefined;
  const read = async (target: Target) => {
    if (reader === undefined) return undefined;
    const { Item } = await reader.send(
      new GetItemCommand({ TableName: target.table, Key: target.key, ConsistentRead: true }),
    );
    return Item;
  };
  const readAll = (targets: Target[]) => Promise.all(targets.map(read));
  const middleware =
    (
      next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
      context: {
        commandName?: string;
      },
    ) =>
    async (args: { input: Record<string, unknown> }) => {
      const operation = (context.commandName ?? '').replace(/Command$/, '');
      const targets = reader ? targetsOf(operation, args.input) : [];
      if (targets.length === 0) return next(args);
      const before = await readAll(targets);
      try {
        const result = await next(args);
        const after = await readAll(targets);
        targets.forEach((target, i) => {
          const table = (target.transactional ? 2 : 1) * tableWriteUnits(before[i], after[i]);
          const index = indexWriteUnits(before[i], after[i]);
          ledger.tableUnits += table;
          ledger.indexUnits += index;
          if (target.transactional) ledger.transactionalItems += 1;
          const kind = itemKind(target.key);
          const entry = ledger.byItem[kind] ?? { writes: 0, tableUnits: 0, indexUnits: 0 };
          ledger.byItem[kind] = entry;
          entry.writes += 1;
          entry.tableUnits += table;
          entry.indexUnits += index;
        });
        return result;
      } catch (error) {
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') {
          ledger.failedConditionalWrites += 1;
          ledger.tableUnits += tableWriteUnits(before[0], undefined);
        }
        throw error;
      }
    };
  for (const Command of WRITE_COMMANDS) {
    const prototype = Command.prototype as unknown as { resolveMiddleware: ResolveMiddleware };
    const original = prototype.resolveMiddleware;
    prototype.resolveMiddleware = function (stack, ...rest) {
      // After serialization the input is in attribute-value form (Document clients marshal
      // before their serializer), which is what the sizes are computed on.
      (stack as MiddlewareStackLike).add(middleware, {
        step: 'build',
        name: 'benchWriteLedger',
        override: true,
      });
      return original.call(this, stack, ...rest);
    };
  }
  return {
    /**
     * Records through this (unmetered) client from now on; `undefined` pauses the ledger
     * (its reads slow every write down, so timed runs go without it).
     */
    useReader(client: DynamoDBClient | undefined) {
      reader = client;
    },
    snapshot: (): WriteLedger => structuredClone(ledger),
    reset() {
      ledger = emptyLedger();
    },
  };
}
