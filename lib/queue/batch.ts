import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../observability/logger.ts';
import type { MessageQueue } from './message-queue.ts';

/** Handles one SQS record; throwing marks just that record for redelivery. */
export type SqsRecordHandler = (record: SQSRecord) => Promise<void>;

/**
 * A message no retry can make valid (not JSON, a version this code cannot read). It is
 * moved to the dead-letter queue at once, with the reason, instead of being retried.
 */
export class UnreadableMessageError extends Error {
  override readonly name = 'UnreadableMessageError';
}

export interface BatchOptions {
  /** Where unreadable messages go, with a `reason` attribute; without it they are retried until SQS moves them. */
  deadLetters?: MessageQueue;
  logger?: Logger;
}

/**
 * Turns a per-record handler into an SQS batch handler with partial failures: the records
 * that threw are reported in `batchItemFailures` and come back after their visibility
 * timeout; the others are deleted. Records of a batch are processed concurrently.
 */
export function sqsBatchHandler(
  handleRecord: SqsRecordHandler,
  options: BatchOptions = {},
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const { deadLetters, logger } = options;
  const guarded: SqsRecordHandler = async (record) => {
    try {
      await handleRecord(record);
    } catch (error) {
      if (!(error instanceof UnreadableMessageError) || deadLetters === undefined) throw error;
      // Parked with the reason; if parking fails, the throw below brings the record back.
      await deadLetters.send(record.body, {
        attributes: {
          reason: error.message,
          sourceMessageId: record.messageId,
          sourceQueue: record.eventSourceARN,
        },
      });
      logger?.warn('unreadable message moved to the dead-letter queue', {
        messageId: record.messageId,
        reason: error.message,
      });
    }
  };
  return async (event) => {
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, guarded, processor, {
      processInParallel: true,
      // A batch where every record failed is still a partial response; throwing would
      // make the poller (or Lambda) retry records that may have succeeded elsewhere.
      throwOnFullBatchFailure: false,
    });
  };
}
