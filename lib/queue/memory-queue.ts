import { randomUUID } from 'node:crypto';
import {
  carriedAttributes,
  DEFAULT_REDRIVE_MAX,
  type DeadLetterQueue,
  type ParkedMessage,
  type RedriveOptions,
  type RedriveResult,
} from './dead-letter-queue.ts';
import type { MessageQueue, SendOptions } from './message-queue.ts';

interface Entry {
  messageId: string;
  body: string;
  sentAt: string;
  receiveCount: number;
  attributes: Record<string, string>;
}

/**
 * A queue that keeps every sent body in order, for tests and embedding. Used as a dead-letter
 * queue it can also be listed and redriven: the messages still in it are kept apart from the
 * `sent` log (which tests may splice), and a redriven one leaves them.
 */
export class MemoryQueue implements MessageQueue, DeadLetterQueue {
  /** The bodies sent so far, oldest first. */
  readonly sent: string[] = [];
  /** The delay each sent body asked for (0 when none), in the order of `sent`. */
  readonly delays: number[] = [];
  /** The attributes each sent body carried ({} when none), in the order of `sent`. */
  readonly attributes: Record<string, string>[] = [];
  /** The messages in the queue (not redriven), oldest first. */
  readonly #entries: Entry[] = [];

  /** Appends the body to `sent`. */
  async send(body: string, options: SendOptions = {}): Promise<void> {
    this.#append(body, options.delaySeconds ?? 0, { ...options.attributes });
  }

  /** Appends every body to `sent`, in order. */
  async sendBatch(bodies: readonly string[]): Promise<void> {
    for (const body of bodies) this.#append(body, 0, {});
  }

  async approximateCount(): Promise<number> {
    return this.#entries.length;
  }

  /** The oldest `limit` messages; like an SQS receive, each listing counts as a receive. */
  async peek(limit: number): Promise<ParkedMessage[]> {
    return this.#entries.slice(0, Math.max(0, limit)).map((entry) => {
      entry.receiveCount++;
      return parked(entry);
    });
  }

  async redrive(to: MessageQueue, options: RedriveOptions = {}): Promise<RedriveResult> {
    const wanted = options.messageIds === undefined ? undefined : new Set(options.messageIds);
    const max = Math.min(options.max ?? DEFAULT_REDRIVE_MAX, DEFAULT_REDRIVE_MAX);
    const done = new Set<string>();
    let capped = false;
    for (const entry of [...this.#entries]) {
      if (wanted !== undefined && !wanted.has(entry.messageId)) continue;
      if (done.size >= max) {
        capped = true;
        break;
      }
      entry.receiveCount++;
      const message = parked(entry);
      await options.prepare?.(message);
      // Sent before it is removed, as on SQS.
      await to.send(message.body, { attributes: carriedAttributes(message.attributes) });
      this.#entries.splice(this.#entries.indexOf(entry), 1);
      done.add(entry.messageId);
    }
    return {
      redriven: done.size,
      notFound: wanted === undefined ? [] : [...wanted].filter((id) => !done.has(id)),
      capped,
    };
  }

  #append(body: string, delaySeconds: number, attributes: Record<string, string>): void {
    this.sent.push(body);
    this.delays.push(delaySeconds);
    this.attributes.push(attributes);
    this.#entries.push({
      messageId: randomUUID(),
      body,
      sentAt: new Date().toISOString(),
      receiveCount: 0,
      attributes: { ...attributes },
    });
  }
}

function parked(entry: Entry): ParkedMessage {
  return { ...entry, attributes: { ...entry.attributes } };
}
