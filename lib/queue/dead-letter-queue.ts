import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { MessageQueue } from './message-queue.ts';

/** A message parked in a dead-letter queue, as a lister sees it (it stays in the queue). */
export interface ParkedMessage {
  /** The id the dead-letter queue gave the message; what a redrive selects by. */
  messageId: string;
  body: string;
  /** When the message was first sent (ISO), when the queue says. */
  sentAt: string | null;
  /** How often the message has been received, the lister's own receives included. */
  receiveCount: number;
  /** Its string message attributes, e.g. the `reason` it was parked with. */
  attributes: Record<string, string>;
}

export interface RedriveOptions {
  /** Only these messages; every message when absent. */
  messageIds?: readonly string[];
  /** Stop after this many (a request must end within the API function's timeout). */
  max?: number;
  /**
   * Runs before a message is sent back, e.g. to reopen what its worker would skip; throwing
   * stops the redrive with the message still parked.
   */
  prepare?: (message: ParkedMessage) => Promise<void>;
}

export interface RedriveResult {
  /** Messages sent to the source queue and then deleted from the dead-letter queue. */
  redriven: number;
  /** Asked-for ids that were not found (already redriven, or not in this queue). */
  notFound: string[];
  /** True when the redrive stopped at `max` and more messages may be waiting. */
  capped: boolean;
}

/**
 * A dead-letter queue that can be looked into and emptied back into its source. Listing
 * never consumes: every message listed is in the queue afterwards.
 */
export interface DeadLetterQueue {
  /** Messages in the queue, visible or held by a lister or redrive at this moment. */
  approximateCount(): Promise<number>;
  /** Up to `limit` parked messages, oldest first, left in the queue. */
  peek(limit: number): Promise<ParkedMessage[]>;
  /** Sends messages to `to` (same body, carried attributes), then deletes them here. */
  redrive(to: MessageQueue, options?: RedriveOptions): Promise<RedriveResult>;
}

/**
 * Attributes a worker sets when it parks a message (lib/queue/batch.ts, the deliver handler):
 * they describe the parking, so they are not carried back to the source queue. If the message
 * is parked again it gets fresh ones.
 */
export const PARKING_ATTRIBUTES: ReadonlySet<string> = new Set([
  'reason',
  'sourceMessageId',
  'sourceQueue',
  'deliveryId',
]);

/** The attributes a redriven message carries back to its source queue. */
export function carriedAttributes(attributes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(attributes).filter(([name]) => !PARKING_ATTRIBUTES.has(name)),
  );
}

/** The default and the highest number of messages one redrive call moves. */
export const DEFAULT_REDRIVE_MAX = 500;

/**
 * How long a listed message stays hidden if its visibility cannot be given back (the lister
 * crashed): longer than the API function's 10 s timeout, so one listing never sees a message twice.
 */
const LIST_VISIBILITY_SECONDS = 15;
/** How long a message is held while it is sent back and deleted. */
const REDRIVE_VISIBILITY_SECONDS = 30;
/** SQS takes at most ten entries per receive and per batch call. */
const SQS_BATCH_LIMIT = 10;
/**
 * The long poll made once short polls find nothing new while the queue still counts more
 * messages: short polls sample only some SQS hosts, and a message just released by another
 * lister may take up to its release visibility to show.
 */
const LAST_LOOK_WAIT_SECONDS = 2;
/** While redriving chosen ids, at most this many receives look through the queue. */
const MAX_REDRIVE_ROUNDS = 100;

export interface SqsDeadLetterQueueOptions {
  /**
   * The visibility timeout a listed or skipped message is given back with: 0 (visible at once)
   * on AWS. fauxqs 2.4.1 with persistence loses a message set to 0 (its SQLite write fails and
   * the message leaves memory until a restart), so the local runtime uses 1.
   */
  releaseVisibilitySeconds?: number;
}

/**
 * A dead-letter queue on SQS (AWS or a local SQS server). SQS has no peek: listing receives
 * with a short visibility timeout, then gives the visibility back, so for the length of a
 * listing the listed messages are hidden from a concurrent lister or redrive.
 */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #releaseVisibilitySeconds: number;

  constructor(sqs: SQSClient, queueUrl: string, options: SqsDeadLetterQueueOptions = {}) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
    this.#releaseVisibilitySeconds = options.releaseVisibilitySeconds ?? 0;
  }

  async approximateCount(): Promise<number> {
    const { Attributes } = await this.#sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.#queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  async peek(limit: number): Promise<ParkedMessage[]> {
    const held = new Map<string, Message>();
    try {
      const maxRounds = Math.ceil(limit / SQS_BATCH_LIMIT) + 3;
      let wait = 0;
      for (let round = 0; round < maxRounds && held.size < limit; round++) {
        const messages = await this.#receive(
          Math.min(SQS_BATCH_LIMIT, limit - held.size),
          LIST_VISIBILITY_SECONDS,
          wait,
        );
        let fresh = 0;
        for (const message of messages) {
          if (message.MessageId === undefined) continue;
          if (!held.has(message.MessageId)) fresh++;
          // The newest receipt handle is the one that can change the visibility.
          held.set(message.MessageId, message);
        }
        if (fresh > 0) wait = 0;
        else if (wait > 0 || !(await this.#countsMoreThan(held.size))) break;
        else wait = LAST_LOOK_WAIT_SECONDS;
      }
    } finally {
      await this.#release([...held.values()]);
    }
    return [...held.values()].map(toParkedMessage).sort(oldestFirst);
  }

  async redrive(to: MessageQueue, options: RedriveOptions = {}): Promise<RedriveResult> {
    const wanted = options.messageIds === undefined ? undefined : new Set(options.messageIds);
    const max = Math.min(options.max ?? DEFAULT_REDRIVE_MAX, DEFAULT_REDRIVE_MAX);
    const done = new Set<string>();
    // Everything received is held until it is redriven or released; messages not asked for stay
    // held while the sweep goes on (so later receives move past them), then are released.
    const held = new Map<string, Message>();
    let capped = false;
    // A message parked after the redrive began is not sent back by it: it may be one this very
    // redrive sent back and a worker parked again at once (an unreadable message), which would
    // otherwise go round until the round limit.
    const startedAt = Date.now();
    try {
      let wait = 0;
      let round = 0;
      for (; round < MAX_REDRIVE_ROUNDS; round++) {
        if (wanted !== undefined && done.size >= wanted.size) break;
        if (done.size >= max) {
          capped = true;
          break;
        }
        const messages = await this.#receive(
          Math.min(SQS_BATCH_LIMIT, max - done.size),
          REDRIVE_VISIBILITY_SECONDS,
          wait,
        );
        const chosen: Message[] = [];
        let fresh = 0;
        for (const message of messages) {
          const id = message.MessageId;
          if (id === undefined || done.has(id)) continue;
          if (!held.has(id)) fresh++;
          held.set(id, message);
          const parkedAt = Number(message.Attributes?.SentTimestamp ?? 0);
          if (parkedAt > startedAt) continue;
          if (wanted === undefined || wanted.has(id)) chosen.push(message);
        }
        const outcomes = await Promise.allSettled(
          chosen.map(async (message) => {
            const parked = toParkedMessage(message);
            await options.prepare?.(parked);
            // Sent before it is deleted: a crash in between leaves a duplicate, never a loss.
            await to.send(parked.body, { attributes: carriedAttributes(parked.attributes) });
            done.add(parked.messageId);
            held.delete(parked.messageId);
            await this.#sqs.send(
              new DeleteMessageCommand({
                QueueUrl: this.#queueUrl,
                ReceiptHandle: message.ReceiptHandle,
              }),
            );
          }),
        );
        const failure = outcomes.find((outcome) => outcome.status === 'rejected');
        if (failure !== undefined) throw failure.reason;
        if (fresh > 0) wait = 0;
        else if (wait > 0 || !(await this.#countsMoreThan(held.size))) break;
        else wait = LAST_LOOK_WAIT_SECONDS;
      }
      // Stopped by the round limit, not by an empty queue: more may be waiting.
      if (round === MAX_REDRIVE_ROUNDS) capped = true;
    } finally {
      await this.#release([...held.values()]);
    }
    return {
      redriven: done.size,
      notFound: wanted === undefined ? [] : [...wanted].filter((id) => !done.has(id)),
      capped,
    };
  }

  /** Whether the queue counts more messages than the `inHand` this caller holds. */
  async #countsMoreThan(inHand: number): Promise<boolean> {
    return (await this.approximateCount()) > inHand;
  }

  async #receive(
    maxNumber: number,
    visibilityTimeout: number,
    waitSeconds: number,
  ): Promise<Message[]> {
    const { Messages } = await this.#sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#queueUrl,
        MaxNumberOfMessages: maxNumber,
        VisibilityTimeout: visibilityTimeout,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages ?? [];
  }

  /**
   * Gives held messages back. Best effort: one that fails comes back by itself when its short
   * visibility timeout ends.
   */
  async #release(messages: Message[]): Promise<void> {
    const chunks: Message[][] = [];
    for (let i = 0; i < messages.length; i += SQS_BATCH_LIMIT)
      chunks.push(messages.slice(i, i + SQS_BATCH_LIMIT));
    await Promise.allSettled(
      chunks.map((chunk) =>
        this.#sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.#queueUrl,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: this.#releaseVisibilitySeconds,
            })),
          }),
        ),
      ),
    );
  }
}

function toParkedMessage(message: Message): ParkedMessage {
  const sent = Number(message.Attributes?.SentTimestamp);
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (value.StringValue !== undefined) attributes[name] = value.StringValue;
  }
  return {
    messageId: message.MessageId ?? '',
    body: message.Body ?? '',
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : null,
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    attributes,
  };
}

/** Oldest first; messages without a send time last, by id so the order is stable. */
export function oldestFirst(a: ParkedMessage, b: ParkedMessage): number {
  if (a.sentAt !== b.sentAt) {
    if (a.sentAt === null) return 1;
    if (b.sentAt === null) return -1;
    return a.sentAt < b.sentAt ? -1 : 1;
  }
  return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
}
