import type { SQSEvent, SQSRecord } from 'aws-lambda';

/** An SQS record as Lambda's event source hands it over, with the given id and body. */
export function sqsRecord(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1700000000000',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '1700000000000',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-central-1:000000000000:test',
    awsRegion: 'eu-central-1',
  };
}

/** An SQS event with one record per body; message ids are `m1`, `m2`, ... unless given. */
export function sqsEvent(bodies: string[], ids?: string[]): SQSEvent {
  return {
    Records: bodies.map((body, index) => sqsRecord(ids?.[index] ?? `m${index + 1}`, body)),
  };
}
