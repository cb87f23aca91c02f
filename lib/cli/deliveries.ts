import { contactIdOfDelivery } from '../delivery/ids.ts';
import { DELIVERY_STATUSES } from '../store/delivery-status.ts';
import { type CommandContext, type CommandGroup, oneOf, stringValue } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { type Column, formatJson, printList } from './output.ts';
import { noteMore, PAGE_OPTIONS, readPages } from './pages.ts';

interface Delivery {
  deliveryId: string;
  subscriptionId?: string;
  contactId: string;
  eventType: string;
  status: string;
  attemptCount: number;
  lastAttempt?: { at: string; statusCode?: number; latencyMs: number; error?: string };
  createdAt: string;
  deliveredAt?: string;
}

function lastAttempt(delivery: Delivery): string | undefined {
  const attempt = delivery.lastAttempt;
  if (attempt === undefined) return undefined;
  const outcome = attempt.statusCode !== undefined ? `HTTP ${attempt.statusCode}` : attempt.error;
  return `${outcome ?? 'no answer'} at ${attempt.at}`;
}

const columns = (withSubscription: boolean): Column<Delivery>[] => [
  { header: 'delivery id', value: (d) => d.deliveryId },
  ...(withSubscription
    ? [{ header: 'subscription', value: (d: Delivery) => d.subscriptionId }]
    : []),
  { header: 'type', value: (d) => d.eventType },
  { header: 'status', value: (d) => d.status },
  { header: 'attempts', value: (d) => d.attemptCount },
  { header: 'last attempt', value: lastAttempt },
  { header: 'created', value: (d) => d.createdAt },
];

const subscriptionOption = {
  type: 'string',
  placeholder: 'ID',
  description: 'The subscription (sub_...)',
} as const;

/** The subscription a delivery belongs to, found among its contact's deliveries (the id names the contact). */
async function subscriptionOfDelivery(
  context: CommandContext,
  deliveryId: string,
): Promise<string> {
  const contactId = contactIdOfDelivery(deliveryId);
  if (contactId === undefined) {
    throw new UsageError(`Not a delivery id: "${deliveryId}" (expected msg_<24 hex>_<12 hex>).`);
  }
  let cursor: string | undefined;
  do {
    const page = await context
      .api()
      .request<{ items: Delivery[]; nextCursor?: string }>(
        'GET',
        `/v1/contacts/${contactId}/deliveries`,
        { query: { limit: 100, cursor } },
      );
    const found = page.items.find((item) => item.deliveryId === deliveryId);
    if (found?.subscriptionId !== undefined) return found.subscriptionId;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  throw new CliError(`No delivery "${deliveryId}" (of contact ${contactId}).`);
}

/** `leadstage deliveries ...`: the webhooks sent (or to be sent) and sending one again. */
export const deliveriesGroup: CommandGroup = {
  name: 'deliveries',
  summary: 'Inspect webhook deliveries and send one again.',
  commands: [
    {
      name: 'list',
      summary: "A subscription's or a contact's deliveries, newest first.",
      positionals: { min: 0, max: 0 },
      options: {
        subscription: subscriptionOption,
        contact: { type: 'string', placeholder: 'ID', description: 'The contact (ct_...) instead' },
        status: {
          type: 'string',
          placeholder: 'STATUS',
          description: `Only this status (with --subscription): ${DELIVERY_STATUSES.join(', ')}`,
        },
        ...PAGE_OPTIONS,
      },
      examples: [
        'leadstage deliveries list --subscription sub_0123 --status failing',
        'leadstage deliveries list --contact ct_97f63aac346999c85faa4657',
      ],
      async run(context) {
        const subscription = stringValue(context.values, 'subscription');
        const contact = stringValue(context.values, 'contact');
        const statusText = stringValue(context.values, 'status');
        if ((subscription === undefined) === (contact === undefined)) {
          throw new UsageError('Give either --subscription or --contact.');
        }
        if (statusText !== undefined && subscription === undefined) {
          throw new UsageError('--status works with --subscription only.');
        }
        const status =
          statusText === undefined ? undefined : oneOf(statusText, DELIVERY_STATUSES, '--status');
        const page =
          subscription !== undefined
            ? await readPages<Delivery>(
                context,
                `/v1/subscriptions/${encodeURIComponent(subscription)}/deliveries`,
                { status },
              )
            : await readPages<Delivery>(
                context,
                `/v1/contacts/${encodeURIComponent(contact ?? '')}/deliveries`,
              );
        printList(context, page, columns(contact !== undefined), 'No deliveries.\n');
        noteMore(context, page);
        return 0;
      },
    },
    {
      name: 'redeliver',
      summary: 'Send one delivery again now, whatever its status (same webhook-id).',
      args: 'DELIVERY_ID',
      positionals: { min: 1, max: 1 },
      options: {
        subscription: {
          ...subscriptionOption,
          description: "Its subscription (else found among the contact's deliveries)",
        },
      },
      examples: [
        'leadstage deliveries redeliver msg_97f63aac346999c85faa4657_1a2b3c4d5e6f',
        'leadstage deliveries redeliver msg_97f63aac346999c85faa4657_1a2b3c4d5e6f --subscription sub_0123',
      ],
      async run(context) {
        const deliveryId = context.positionals[0] ?? '';
        const subscription =
          stringValue(context.values, 'subscription') ??
          (await subscriptionOfDelivery(context, deliveryId));
        const queued = await context
          .api()
          .request<{ deliveryId: string }>(
            'POST',
            `/v1/subscriptions/${encodeURIComponent(subscription)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
          );
        if (context.json) context.out.stdout(formatJson(queued));
        else context.out.stdout(`Queued ${queued.deliveryId} for sending again.\n`);
        return 0;
      },
    },
  ],
};
