import { type CommandGroup, intValue, listValue, oneOf } from './command.ts';
import { CliError } from './errors.ts';
import { type Column, formatCell, formatJson, formatTable, printList } from './output.ts';

const QUEUES = ['ingest', 'delivery'] as const;

interface QueueDepth {
  name: string;
  approximateCount: number;
}

interface RedriveResult {
  redriven: number;
  notFound?: string[];
  capped?: boolean;
}

interface DeadLetter {
  messageId: string;
  sentAt: string | null;
  receiveCount: number;
  reason: string;
  summary: Record<string, unknown>;
}

const depthColumns: Column<QueueDepth>[] = [
  { header: 'queue', value: (q) => q.name },
  { header: 'messages (approx.)', value: (q) => q.approximateCount },
];

const letterColumns: Column<DeadLetter>[] = [
  { header: 'message id', value: (m) => m.messageId },
  { header: 'sent', value: (m) => m.sentAt },
  { header: 'receives', value: (m) => m.receiveCount },
  { header: 'reason', value: (m) => m.reason, maxWidth: 40 },
  {
    header: 'summary',
    value: (m) =>
      Object.entries(m.summary)
        .map(([key, value]) => `${key}=${formatCell(value)}`)
        .join(' '),
    maxWidth: 80,
  },
];

/** `leadstage dlq ...`: the messages parked after failing again and again, and sending them back. */
export const dlqGroup: CommandGroup = {
  name: 'dlq',
  summary: 'Inspect the dead-letter queues and send their messages back (redrive).',
  commands: [
    {
      name: 'list',
      summary:
        'Without QUEUE: how many messages each dead-letter queue holds; with it: the messages.',
      args: '[QUEUE]',
      positionals: { min: 0, max: 1 },
      options: {
        limit: {
          type: 'string',
          placeholder: 'N',
          description: 'At most N messages, 1 to 100 (default 50)',
        },
      },
      description: `QUEUE is ${QUEUES.join(' or ')}. Listing leaves the messages where they are.`,
      examples: ['leadstage dlq list', 'leadstage dlq list delivery'],
      async run(context) {
        const queueText = context.positionals[0];
        if (queueText === undefined) {
          const depths = await context
            .api()
            .request<{ queues: QueueDepth[] }>('GET', '/v1/dead-letters');
          context.out.stdout(
            context.json ? formatJson(depths) : formatTable(depths.queues, depthColumns),
          );
          return 0;
        }
        const queue = oneOf(queueText, QUEUES, 'QUEUE');
        const limit = intValue(context.values, 'limit', { min: 1, max: 100 });
        const page = await context
          .api()
          .request<{ items: DeadLetter[] }>('GET', `/v1/dead-letters/${queue}`, {
            query: { limit },
          });
        printList(context, page, letterColumns, `The ${queue} dead-letter queue is empty.\n`);
        return 0;
      },
    },
    {
      name: 'redrive',
      summary: 'Send dead letters back to their queue (all, or those given with --message-id).',
      args: 'QUEUE',
      positionals: { min: 1, max: 1 },
      options: {
        'message-id': {
          type: 'string',
          multiple: true,
          placeholder: 'ID',
          description: 'Only this message (from `dlq list QUEUE`)',
        },
      },
      description:
        'Each message is sent back before it is deleted from the dead-letter queue, so none is ' +
        'lost; the workers are idempotent, so a message sent twice is harmless.',
      examples: [
        'leadstage dlq redrive delivery',
        'leadstage dlq redrive ingest --message-id 3f1c...',
      ],
      async run(context) {
        const queue = oneOf(context.positionals[0] ?? '', QUEUES, 'QUEUE');
        const messageIds = listValue(context.values, 'message-id');
        const result = await context
          .api()
          .request<RedriveResult>('POST', `/v1/dead-letters/${queue}/redrive`, {
            body: messageIds.length > 0 ? { messageIds } : {},
          });
        if (context.json) context.out.stdout(formatJson(result));
        else context.out.stdout(`Sent ${result.redriven} message(s) back to the ${queue} queue.\n`);
        if (result.capped) {
          context.out.stderr('Stopped at the limit of one call: run it again for the rest.\n');
        }
        const missing = result.notFound ?? [];
        if (missing.length > 0) {
          throw new CliError(
            `Not in the ${queue} dead-letter queue (already redriven, or never there): ${missing.join(', ')}`,
          );
        }
        return 0;
      },
    },
  ],
};
