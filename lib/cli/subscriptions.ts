import { STAGES } from '../domain/stage.ts';
import {
  type CommandContext,
  type CommandGroup,
  intValue,
  listValue,
  oneOf,
  stringValue,
} from './command.ts';
import { CliError } from './errors.ts';
import { type Column, formatFields, formatJson, printList } from './output.ts';

/** A subscription as the API shows it (GET /v1/subscriptions/{id}). */
export interface Subscription {
  id: string;
  url: string;
  description?: string;
  eventTypes?: string[];
  stages?: string[];
  enabled: boolean;
  disabledReason?: string;
  failingSince?: string;
  lastSuccessAt?: string;
  previousSecretsExpireAt?: string[];
  createdAt: string;
  secret?: string;
}

interface PingResult {
  ok: boolean;
  statusCode?: number;
  latencyMs: number;
  error?: string;
}

/** How a subscription is doing, in a word or two. */
function health(subscription: Subscription): string {
  if (!subscription.enabled) return `disabled (${subscription.disabledReason ?? 'manual'})`;
  if (subscription.failingSince) return `failing since ${subscription.failingSince}`;
  return 'ok';
}

const columns: Column<Subscription>[] = [
  { header: 'id', value: (s) => s.id },
  { header: 'url', value: (s) => s.url },
  { header: 'health', value: health },
  { header: 'stages', value: (s) => s.stages ?? 'all' },
  { header: 'last success', value: (s) => s.lastSuccessAt },
  { header: 'description', value: (s) => s.description, maxWidth: 30 },
];

function details(subscription: Subscription): string {
  return formatFields([
    ['id', subscription.id],
    ['url', subscription.url],
    ['description', subscription.description],
    ['health', health(subscription)],
    ['event types', subscription.eventTypes ?? 'all'],
    ['stages', subscription.stages ?? 'all'],
    ['last success', subscription.lastSuccessAt],
    ['old secrets until', subscription.previousSecretsExpireAt],
    ['created', subscription.createdAt],
  ]);
}

/** Prints a subscription with its secret (create, rotate): the only time the API shows it. */
function printWithSecret(context: CommandContext, subscription: Subscription, note: string) {
  if (context.json) return context.out.stdout(formatJson(subscription));
  context.out.stdout(`${details(subscription)}secret:            ${subscription.secret}\n`);
  context.out.stderr(`${note}\n`);
}

const subscriptionPath = (id: string) => `/v1/subscriptions/${encodeURIComponent(id)}`;

/** `leadstage subscriptions ...`: the webhook endpoints that receive stage changes. */
export const subscriptionsGroup: CommandGroup = {
  name: 'subscriptions',
  summary: 'Manage the webhook subscriptions (CRM endpoints that receive stage changes).',
  commands: [
    {
      name: 'add',
      summary: 'Subscribe a URL to stage changes; prints the signing secret (shown only once).',
      args: 'URL',
      positionals: { min: 1, max: 1 },
      options: {
        description: { type: 'string', placeholder: 'TEXT', description: 'A note for people' },
        stage: {
          type: 'string',
          multiple: true,
          placeholder: 'STAGE',
          description: `Only changes to this stage (${STAGES.join(', ')}); all when absent`,
        },
        'event-type': {
          type: 'string',
          multiple: true,
          placeholder: 'TYPE',
          description: 'Only this event type (e.g. contact.stage_changed); all when absent',
        },
      },
      examples: [
        'leadstage subscriptions add https://crm.example.com/hooks/leadstage --stage sales_ready',
      ],
      async run(context) {
        const stages = listValue(context.values, 'stage').map((stage) =>
          oneOf(stage, STAGES, '--stage'),
        );
        const eventTypes = listValue(context.values, 'event-type');
        const description = stringValue(context.values, 'description');
        const created = await context.api().request<Subscription>('POST', '/v1/subscriptions', {
          body: {
            url: context.positionals[0],
            ...(description !== undefined ? { description } : {}),
            ...(stages.length > 0 ? { stages } : {}),
            ...(eventTypes.length > 0 ? { eventTypes } : {}),
          },
        });
        printWithSecret(
          context,
          created,
          'Keep the secret now: the API never shows it again (rotate it to get a new one).',
        );
        return 0;
      },
    },
    {
      name: 'list',
      summary: 'List the subscriptions with their health, oldest first.',
      positionals: { min: 0, max: 0 },
      async run(context) {
        const page = await context
          .api()
          .request<{ items: Subscription[] }>('GET', '/v1/subscriptions');
        printList(context, page, columns, 'No subscriptions.\n');
        return 0;
      },
    },
    {
      name: 'get',
      summary: 'Show one subscription (never its secret).',
      args: 'ID',
      positionals: { min: 1, max: 1 },
      async run(context) {
        const subscription = await context
          .api()
          .request<Subscription>('GET', subscriptionPath(context.positionals[0] ?? ''));
        context.out.stdout(context.json ? formatJson(subscription) : details(subscription));
        return 0;
      },
    },
    {
      name: 'rm',
      summary: 'Delete a subscription; its undelivered webhooks are cancelled.',
      args: 'ID',
      positionals: { min: 1, max: 1 },
      async run(context) {
        const id = context.positionals[0] ?? '';
        await context.api().request('DELETE', subscriptionPath(id));
        if (context.json) context.out.stdout(formatJson({ id, deleted: true }));
        else context.out.stdout(`Deleted ${id}.\n`);
        return 0;
      },
    },
    {
      name: 'rotate',
      summary: 'Replace the signing secret; the old one keeps signing during the overlap.',
      args: 'ID',
      positionals: { min: 1, max: 1 },
      options: {
        overlap: {
          type: 'string',
          placeholder: 'SECONDS',
          description: 'How long the old secret keeps signing (default 86400; 0 drops it now)',
        },
      },
      async run(context) {
        const overlapSeconds = intValue(context.values, 'overlap', { min: 0, max: 7 * 86_400 });
        const rotated = await context
          .api()
          .request<Subscription>(
            'POST',
            `${subscriptionPath(context.positionals[0] ?? '')}/rotate-secret`,
            { body: overlapSeconds === undefined ? {} : { overlapSeconds } },
          );
        printWithSecret(
          context,
          rotated,
          'Keep the new secret now: the API never shows it again. Webhooks carry both signatures ' +
            'until the old secret expires.',
        );
        return 0;
      },
    },
    {
      name: 'ping',
      summary: 'Send a signed webhook.ping to the endpoint now; exits 1 unless it answers 2xx.',
      args: 'ID',
      positionals: { min: 1, max: 1 },
      async run(context) {
        const id = context.positionals[0] ?? '';
        const result = await context
          .api()
          .request<PingResult>('POST', `${subscriptionPath(id)}/ping`);
        if (context.json) context.out.stdout(formatJson(result));
        const answer =
          result.statusCode !== undefined
            ? `HTTP ${result.statusCode}`
            : (result.error ?? 'no answer');
        if (!result.ok) {
          throw new CliError(
            `The endpoint of ${id} did not accept the ping: ${answer}` +
              `${result.statusCode !== undefined && result.error ? ` (${result.error})` : ''} after ${result.latencyMs} ms.`,
          );
        }
        if (!context.json) context.out.stdout(`Ping OK: ${answer} in ${result.latencyMs} ms.\n`);
        return 0;
      },
    },
  ],
};
