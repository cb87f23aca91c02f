import { describe, expect, it } from 'vitest';
import { carriedAttributes } from '../../../lib/queue/dead-letter-queue.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';

describe('MemoryQueue as a dead-letter queue', () => {
  it('peeks without consuming, oldest first, counting each listing as a receive', async () => {
    const dlq = new MemoryQueue();
    await dlq.send('a', { attributes: { reason: 'unreadable' } });
    await dlq.sendBatch(['b', 'c']);
    const first = await dlq.peek(2);
    expect(first.map((m) => [m.body, m.receiveCount, m.attributes])).toEqual([
      ['a', 1, { reason: 'unreadable' }],
      ['b', 1, {}],
    ]);
    const second = await dlq.peek(10);
    expect(second.map((m) => [m.body, m.receiveCount])).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 1],
    ]);
    expect(second[0]?.messageId).toBe(first[0]?.messageId);
    expect(await dlq.approximateCount()).toBe(3);
  });

  it('redrives chosen messages to the target, sends before it removes, and keeps the `sent` log', async () => {
    const dlq = new MemoryQueue();
    const target = new MemoryQueue();
    await dlq.sendBatch(['a', 'b', 'c']);
    const [, b] = await dlq.peek(3);
    const seenInTarget: number[] = [];
    const result = await dlq.redrive(target, {
      messageIds: [b?.messageId as string, 'missing'],
      prepare: async () => {
        seenInTarget.push(target.sent.length);
      },
    });
    expect(result).toEqual({ redriven: 1, notFound: ['missing'], capped: false });
    expect(seenInTarget).toEqual([0]);
    expect(target.sent).toEqual(['b']);
    expect((await dlq.peek(10)).map((m) => m.body)).toEqual(['a', 'c']);
    // The log of what was sent is untouched; only the queue's contents changed.
    expect(dlq.sent).toEqual(['a', 'b', 'c']);
  });

  it('stops at `max` and says it was capped', async () => {
    const dlq = new MemoryQueue();
    const target = new MemoryQueue();
    await dlq.sendBatch(['a', 'b', 'c']);
    expect(await dlq.redrive(target, { max: 2 })).toEqual({
      redriven: 2,
      notFound: [],
      capped: true,
    });
    expect(await dlq.approximateCount()).toBe(1);
  });

  it('keeps a message whose preparation failed', async () => {
    const dlq = new MemoryQueue();
    const target = new MemoryQueue();
    await dlq.send('a');
    await expect(
      dlq.redrive(target, {
        prepare: async () => {
          throw new Error('store down');
        },
      }),
    ).rejects.toThrow('store down');
    expect(target.sent).toEqual([]);
    expect(await dlq.approximateCount()).toBe(1);
  });
});

describe('carriedAttributes', () => {
  it('drops the attributes that describe the parking and keeps the rest', () => {
    expect(
      carriedAttributes({
        reason: 'r',
        sourceMessageId: 'm',
        sourceQueue: 'q',
        deliveryId: 'd',
        traceId: 't',
      }),
    ).toEqual({ traceId: 't' });
  });
});
