import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** Handles one SQS record; throwing marks just that record for redelivery. */
export type SqsRecordHandler = (record: SQSRecord) => Promise<void>;

/**
 * Turns a per-record handler into an SQS batch handler with partial failures: the records
 * that threw are reported in `batchItemFailures` and come back after their visibility
 * timeout; the others are deleted. Records of a batch are processed concurrently.
 */
export function sqsBatchHandler(
  handleRecord: SqsRecordHandler,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, handleRecord, processor, {
      processInParallel: true,
      // A batch where every record failed is still a partial response; throwing would
      // make the poller (or Lambda) retry records that may have succeeded elsewhere.
      throwOnFullBatchFailure: false,
    });
  };
}
