/*
 * The funnel's counter items must stay small however long traffic lasts: each remembers
 * only the tokens of about the last minute, spread over FUNNEL_SHARDS items. Thousands of
 * counted changes at a simulated 50 a second (a controllable clock, workers overlapping),
 * through the real Dynamo funnel store; every counter item read back and measured by the
 * rules DynamoDB bills by.
 */
import { describe, expect, it } from 'vitest';
import { countContact } from '../../../lib/classify/count-contact.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import {
  countToken,
  DynamoFunnelStore,
  FUNNEL_SHARDS,
  RECENT_SET_MS,
  TOKEN_MEMORY_MS,
} from '../../../lib/store/funnel-store.ts';
import { keys } from '../../../lib/store/keys.ts';
import { type DynamoTable, dynamoBackends, useDynamoTable } from '../../support/dynamo-backends.ts';
import { itemsOfPartition } from './support.ts';

/** Counted changes a second, as simulated by the clock. */
const RATE = 50;
/** Simulated seconds: long enough for the first set of tokens to be dropped (after 75 to 90 s). */
const SECONDS = 100;
/** Workers counting at the same time. */
const CONCURRENCY = 50;
/** The bound the design promises at 50 changes a second: one write unit per write. */
const ITEM_BOUND_BYTES = 1024;

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** Bytes of a number as DynamoDB sizes it: one per two significant digits, plus one. */
function numberBytes(value: number): number {
  const digits = String(Math.abs(value)).replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

/**
 * An item's size by DynamoDB's rules (attribute names plus values; a set is the sum of its
 * elements): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
function itemBytes(item: Record<string, unknown>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += utf8(name);
    if (typeof value === 'string') bytes += utf8(value);
    else if (typeof value === 'number') bytes += numberBytes(value);
    else if (value instanceof Set) {
      for (const element of value) bytes += utf8(String(element));
    } else throw new Error(`unexpected attribute ${name} on a counter item`);
  }
  return bytes;
}

/** Every item of the funnel's partition: the counter items (CURRENT and DAY shards). */
const counterItems = (table: DynamoTable) => itemsOfPartition(table, keys.funnelPartition);

/** Every token an item remembers, in `applying` or a recent set. */
function tokensOf(item: Record<string, unknown>): string[] {
  return Object.values(item).flatMap((value) =>
    value instanceof Set ? [...value].map(String) : [],
  );
}

describe.each(dynamoBackends)(
  'funnel counter items under sustained traffic, on $name',
  (backend) => {
    const table = useDynamoTable(backend, 'funnel_counter_size');

    it(`${RATE} counted changes a second for ${SECONDS} s: every counter item stays under 1 KB, the oldest tokens are gone, the counts exact`, async () => {
      const funnel = new DynamoFunnelStore(table().doc, table().tableName);
      const start = Date.parse('2025-03-01T12:00:00.000Z');
      const total = RATE * SECONDS;
      const contactId = (i: number) => `ct_size_${String(i).padStart(6, '0')}`;
      let largest = 0;
      let mostTokens = 0;
      for (let first = 0; first < total; first += CONCURRENCY) {
        const batch = Array.from(
          { length: Math.min(CONCURRENCY, total - first) },
          (_, j) => first + j,
        );
        await Promise.all(
          batch.map((i) => {
            const at = new Date(start + Math.floor((i * 1000) / RATE));
            return countContact(
              contactId(i),
              { stage: 'lead', contactable: true, stale: false, version: 1, sequence: 1 },
              [{ sequence: 1, from: null, to: 'lead', at: at.toISOString() }],
              { funnel, now: () => at, logger: silentLogger },
            );
          }),
        );
        // Measured every ten simulated seconds, and at the end.
        const done = first + batch.length;
        if (done % (RATE * 10) === 0 || done === total) {
          for (const item of await counterItems(table())) {
            largest = Math.max(largest, itemBytes(item));
            mostTokens = Math.max(mostTokens, tokensOf(item).length);
          }
        }
      }

      const items = await counterItems(table());
      // One CURRENT and one DAY item per shard, and nothing else.
      expect(items).toHaveLength(2 * FUNNEL_SHARDS);
      expect(largest).toBeLessThan(ITEM_BOUND_BYTES);
      // The measure is not vacuous: each item holds a minute or more of its shard's tokens...
      const perItemPerSecond = RATE / FUNNEL_SHARDS;
      expect(mostTokens).toBeGreaterThan(perItemPerSecond * (TOKEN_MEMORY_MS / 1000));
      // ...and no more than the memory and one set width, with room for an uneven shard.
      expect(mostTokens).toBeLessThan(
        perItemPerSecond * ((TOKEN_MEMORY_MS + RECENT_SET_MS) / 1000) * 1.6,
      );
      // The first set's tokens (its first RECENT_SET_MS) were dropped, by writes a memory later.
      const remembered = new Set(items.flatMap(tokensOf));
      const early = Array.from({ length: (RATE * RECENT_SET_MS) / 1000 }, (_, i) =>
        countToken(contactId(i), 1),
      );
      expect(early.filter((token) => remembered.has(token))).toEqual([]);
      // Exact counts, summed over the shards.
      expect(await funnel.current()).toMatchObject({ lead: total, total });
      expect(await funnel.enteredByDay('2025-03-01', '2025-03-01')).toEqual([
        {
          day: '2025-03-01',
          entered: { lead: total, qualified: 0, prospect: 0, sales_ready: 0, disqualified: 0 },
          reached: { lead: total, qualified: 0, prospect: 0, sales_ready: 0 },
        },
      ]);
      console.info(
        `${backend.name}: ${total} changes at ${RATE}/s, largest counter item ${largest} B, most tokens on one item ${mostTokens}`,
      );
    }, 600_000);
  },
);
