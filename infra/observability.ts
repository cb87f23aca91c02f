import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  type Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, type ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
// Type-only: leadstage.ts may import this module, and a runtime import back would be a cycle.
import type { Leadstage, LeadstageFunctions } from './leadstage.ts';

/** Options of {@link addObservability}. */
export interface ObservabilityProps {
  /**
   * Where the alarms (and their return to OK) are notified: an existing topic, e.g. one shared
   * by several stacks and wired to a pager. Its access policy must let CloudWatch alarms publish,
   * and if it is encrypted its key must let `cloudwatch.amazonaws.com` use it (the AWS-managed
   * `alias/aws/sns` key does not, so alarms cannot notify a topic encrypted with it).
   *
   * @default - a new topic, encrypted with a key of its own, TLS enforced
   */
  readonly alarmTopic?: ITopic;

  /**
   * An address subscribed to the alarm topic (the given one or the new one). AWS sends it a
   * confirmation mail first; nothing is delivered until the link in it is followed.
   *
   * @default - no subscription; subscribe a pager, chat or mail to the topic yourself
   */
  readonly alarmEmail?: string;
}

/** What {@link addObservability} made. */
export interface LeadstageObservability {
  /** The topic every alarm notifies, on ALARM and on OK. */
  readonly topic: ITopic;
  /** Every alarm, in a stable order: DLQs, queue ages, function errors and throttles, exhaustion. */
  readonly alarms: Alarm[];
  /** The "funnel" dashboard: events in, applied, stage changes, deliveries, queues, functions. */
  readonly dashboard: Dashboard;
}

/** The namespace of the metrics extracted from the functions' JSON logs. */
export const METRIC_NAMESPACE = 'Leadstage';

/**
 * The dimension of every log-derived metric: the function that wrote the line (each line has a
 * `function` field, the Lambda function name, see `functions/shared.ts`). It keeps the metrics of
 * two deployments in one account and region apart, so one's alarm never fires on the other's logs.
 */
export const FUNCTION_DIMENSION = 'FunctionName';

/** The log-derived metrics and the filter patterns (on the JSON log lines) that count them. */
export const LOG_METRICS = {
  /** classify: an event merged into its contact (duplicates left out). */
  EventsApplied: '{ $.message = "event applied" && $.outcome != "duplicate" }',
  /** classify: an event that moved its contact to another stage. */
  StageChanges: '{ $.message = "event applied" && $.outcome = "stage_changed" }',
  /** deliver: a webhook a subscriber accepted (2xx). */
  DeliveriesDelivered: '{ $.message = "delivery attempt" && $.outcome = "delivered" }',
  /** deliver: a failed attempt, whether retried, the last one, or answered 410 Gone. */
  DeliveriesFailed:
    '{ $.message = "delivery attempt" && ($.outcome = "retry" || $.outcome = "exhausted" || $.outcome = "gone") }',
  /** deliver: a delivery given up after its last retry (also parked in the delivery DLQ). */
  DeliveriesExhausted: '{ $.message = "delivery attempt" && $.outcome = "exhausted" }',
} as const;

/** A message older than this on the ingest queue means classify is not keeping up. */
export const INGEST_QUEUE_MAX_AGE = Duration.minutes(5);
/**
 * A message older than this on the delivery queue means deliver is not keeping up. Higher than
 * the ingest one: retries sit on the queue as delayed messages (up to SQS's 15 minutes).
 */
export const DELIVERY_QUEUE_MAX_AGE = Duration.minutes(30);

const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

type FunctionKey = keyof LeadstageFunctions;
const FUNCTION_KEYS: readonly FunctionKey[] = ['api', 'classify', 'deliver', 'sweep'];

/** Construct-id prefix and what each function is, for alarm texts. */
const FUNCTION_INFO: Record<FunctionKey, { id: string; role: string; impact: string }> = {
  api: {
    id: 'Api',
    role: 'the HTTP API function (ingest, admin, subscriptions)',
    impact:
      'callers get 5xx answers, and a form or webhook that was not queued is lost unless its sender retries',
  },
  classify: {
    id: 'Classify',
    role: 'the classify worker (ingest queue)',
    impact:
      'the failed batch items return to the ingest queue and are retried; after 5 receives they land in the ingest DLQ',
  },
  deliver: {
    id: 'Deliver',
    role: 'the deliver worker (delivery queue)',
    impact:
      'the failed batch items return to the delivery queue and are retried; after 5 receives they land in the delivery DLQ',
  },
  sweep: {
    id: 'Sweep',
    role: 'the sweeper (every minute, one at a time)',
    impact: 'due retries and stranded deliveries wait for the next successful sweep',
  },
};

/**
 * Adds the operational view of a {@link Leadstage} pipeline: alarms that notify an SNS topic,
 * CloudWatch Logs metric filters that count the funnel from the functions' JSON log lines, and a
 * "funnel" dashboard.
 *
 * Everything is created under one child construct, `Observability`, of `scope`, with these
 * construct ids (stable, so the logical ids do not change between synths):
 *
 * - `AlarmTopic` (and its key `AlarmTopicKey`), only when `props.alarmTopic` is not given; the
 *   topic is encrypted with a customer-managed KMS key (rotation on) whose policy lets CloudWatch
 *   alarms use it, and its policy enforces TLS (cdk-nag AwsSolutions-SNS2/SNS3) and lets this
 *   account's CloudWatch alarms publish;
 * - metric filters `EventsAppliedFilter`, `StageChangesFilter` (classify logs) and
 *   `DeliveriesDeliveredFilter`, `DeliveriesFailedFilter`, `DeliveriesExhaustedFilter` (deliver
 *   logs), namespace `Leadstage`, dimension `FunctionName` (see {@link LOG_METRICS});
 * - alarms `IngestDlqDepthAlarm`, `DeliveryDlqDepthAlarm`, `IngestQueueAgeAlarm`,
 *   `DeliveryQueueAgeAlarm`, `{Api,Classify,Deliver,Sweep}ErrorsAlarm`,
 *   `{Api,Classify,Deliver,Sweep}ThrottlesAlarm` and `DeliveriesExhaustedAlarm`: each notifies the
 *   topic on ALARM and on OK, treats missing data as not breaching, and says in its description
 *   what to do;
 * - the dashboard `FunnelDashboard`, named `<stack name>-<region>-funnel` (dashboards are global
 *   to the account, so the region keeps two regions' stacks apart).
 *
 * Call it once per scope, after the pipeline's queues and functions exist (from the `Leadstage`
 * constructor: after `this.functions` is set).
 *
 * @example
 * const leadstage = new Leadstage(stack, 'Leadstage');
 * addObservability(stack, leadstage, { alarmEmail: 'oncall@example.com' });
 */
export function addObservability(
  scope: Construct,
  leadstage: Leadstage,
  props: ObservabilityProps = {},
): LeadstageObservability {
  const { ingestQueue, ingestDlq, deliveryQueue, deliveryDlq, functions } = leadstage;
  if (
    ingestQueue === undefined ||
    ingestDlq === undefined ||
    deliveryQueue === undefined ||
    deliveryDlq === undefined ||
    functions === undefined
  ) {
    throw new Error(
      'addObservability: the Leadstage queues and functions do not exist yet; call it after they are created',
    );
  }
  const root = new Construct(scope, 'Observability');
  const topic = props.alarmTopic ?? createAlarmTopic(root);
  if (props.alarmEmail !== undefined) {
    const email = props.alarmEmail.trim();
    if (!Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      throw new Error(`addObservability: \`alarmEmail\` is not an email address: ${email}`);
    }
    topic.addSubscription(new EmailSubscription(email));
  }

  // Funnel metrics from the workers' JSON log lines.
  const logMetric = (name: keyof typeof LOG_METRICS, fn: IFunction, logGroup: ILogGroup) =>
    new MetricFilter(root, `${name}Filter`, {
      logGroup,
      filterPattern: FilterPattern.literal(LOG_METRICS[name]),
      metricNamespace: METRIC_NAMESPACE,
      metricName: name,
      metricValue: '1',
      dimensions: { [FUNCTION_DIMENSION]: '$.function' },
    }).metric({
      statistic: Stats.SUM,
      period: FIVE_MINUTES,
      dimensionsMap: { [FUNCTION_DIMENSION]: fn.functionName },
    });
  const { classify, deliver } = functions;
  const eventsApplied = logMetric('EventsApplied', classify, classify.logGroup);
  const stageChanges = logMetric('StageChanges', classify, classify.logGroup);
  const delivered = logMetric('DeliveriesDelivered', deliver, deliver.logGroup);
  const failed = logMetric('DeliveriesFailed', deliver, deliver.logGroup);
  const exhausted = logMetric('DeliveriesExhausted', deliver, deliver.logGroup);

  const alarms: Alarm[] = [];
  const alarm = (id: string, metric: IMetric, threshold: number, description: string): Alarm => {
    const created = new Alarm(root, id, {
      metric,
      threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    const action = new SnsAction(topic);
    created.addAlarmAction(action);
    created.addOkAction(action);
    alarms.push(created);
    return created;
  };

  // Dead-letter queues: anything in them needs a person.
  const dlqDepth = (queue: IQueue) =>
    queue.metricApproximateNumberOfMessagesVisible({
      statistic: Stats.MAXIMUM,
      period: ONE_MINUTE,
    });
  alarm(
    'IngestDlqDepthAlarm',
    dlqDepth(ingestDlq),
    0,
    'Leadstage: events are in the ingest DLQ. Classify failed on them 5 times, or could not ' +
      'read them at all (those carry a "reason" message attribute). Find the cause in the ' +
      'classify function logs (search for the message ids), deploy the fix, then redrive the ' +
      'DLQ to the ingest queue (SQS console: Start DLQ redrive); classify is idempotent per ' +
      'event id, so a redrive is safe. Messages are kept 14 days. The alarm clears when the DLQ ' +
      'is empty.',
  );
  alarm(
    'DeliveryDlqDepthAlarm',
    dlqDepth(deliveryDlq),
    0,
    'Leadstage: deliveries are in the delivery DLQ. Either a subscriber endpoint failed every ' +
      'retry (about 27 hours with the default schedule; reason attribute "exhausted after N attempts"; see also ' +
      'DeliveriesExhaustedAlarm), or deliver crashed on a message 5 times or could not read it. ' +
      'Exhausted ones: fix or contact the subscriber, send again with POST ' +
      '/v1/subscriptions/{id}/deliveries/{deliveryId}/redeliver (or /replay), then purge them. ' +
      'Others: read the deliver function logs, deploy the fix, redrive the DLQ to the delivery ' +
      'queue. The alarm clears when the DLQ is empty.',
  );

  // Queue age: a consumer that is down, failing or throttled shows here first.
  const queueAge = (queue: IQueue) =>
    queue.metricApproximateAgeOfOldestMessage({ statistic: Stats.MAXIMUM, period: ONE_MINUTE });
  alarm(
    'IngestQueueAgeAlarm',
    queueAge(ingestQueue),
    INGEST_QUEUE_MAX_AGE.toSeconds(),
    'Leadstage: the oldest message on the ingest queue is over 5 minutes old, so new events ' +
      'reach contacts (and subscribers) late. Check the classify function: errors and throttles ' +
      '(their alarms), its logs, its event source mapping (enabled?), DynamoDB throttling. ' +
      'Nothing is lost while it waits: messages are kept 14 days.',
  );
  alarm(
    'DeliveryQueueAgeAlarm',
    queueAge(deliveryQueue),
    DELIVERY_QUEUE_MAX_AGE.toSeconds(),
    'Leadstage: the oldest message on the delivery queue is over 30 minutes old (retries wait ' +
      'there at most 15), so stage changes reach subscribers late. Check the deliver function: ' +
      'errors and throttles (their alarms), its logs, its event source mapping (enabled?). ' +
      'Nothing is lost while it waits: messages are kept 14 days.',
  );

  // Functions: any error or throttle.
  for (const key of FUNCTION_KEYS) {
    const fn = functions[key];
    const info = FUNCTION_INFO[key];
    alarm(
      `${info.id}ErrorsAlarm`,
      fn.metricErrors({ statistic: Stats.SUM, period: FIVE_MINUTES }),
      0,
      `Leadstage: ${info.role} failed invocations in the last 5 minutes (uncaught error, ` +
        `timeout or out of memory); ${info.impact}. Read the function's log group for ` +
        `"level":"error" lines and "Task timed out"; roll back the last deploy if it started then.`,
    );
    alarm(
      `${info.id}ThrottlesAlarm`,
      fn.metricThrottles({ statistic: Stats.SUM, period: FIVE_MINUTES }),
      0,
      `Leadstage: invocations of ${info.role} were throttled in the last 5 minutes; ` +
        `${info.impact}. Check the account's concurrent executions (Lambda quota, other ` +
        `functions using it up) and the function's reserved concurrency` +
        (key === 'sweep'
          ? ' (1 by design: a sweep that runs past a minute throttles the next one; look for slow sweeps in its Duration).'
          : '.'),
    );
  }

  alarm(
    'DeliveriesExhaustedAlarm',
    exhausted,
    0,
    'Leadstage: a delivery was given up after its last retry (about 27 hours with the default schedule): a ' +
      'subscriber has missed a stage change. Find the subscription in the deliver function logs ' +
      '("delivery attempt" lines with "outcome":"exhausted" name it), list its deliveries with ' +
      'GET /v1/subscriptions/{id}/deliveries?status=exhausted, get the endpoint fixed, then send ' +
      'again with .../deliveries/{deliveryId}/redeliver or /replay. The job is also in the ' +
      'delivery DLQ: purge it once handled.',
  );

  const dashboard = createDashboard(root, leadstage, {
    alarms,
    eventsApplied,
    stageChanges,
    delivered,
    failed,
    exhausted,
  });

  return { topic, alarms, dashboard };
}

/** An encrypted topic that CloudWatch alarms of this account can publish to, over TLS only. */
function createAlarmTopic(scope: Construct): Topic {
  // Not the AWS-managed alias/aws/sns key: its policy cannot be changed and does not let
  // CloudWatch use it, so alarms could not publish to the topic.
  const key = new Key(scope, 'AlarmTopicKey', {
    description: 'Encrypts the Leadstage alarm topic (CloudWatch alarms may use it to publish)',
    enableKeyRotation: true,
    // It guards notifications in transit only: nothing stays encrypted with it.
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  });
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublishToTheTopic',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }),
  );
  const topic = new Topic(scope, 'AlarmTopic', {
    displayName: 'Leadstage alarms',
    masterKey: key,
    enforceSSL: true,
  });
  // The topic policy CDK writes (for enforceSSL) replaces SNS's default one, which is what
  // lets CloudWatch publish; allow it again, for this account's alarms only.
  const stack = Stack.of(scope);
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        ArnLike: {
          'aws:SourceArn': stack.formatArn({
            service: 'cloudwatch',
            resource: 'alarm',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  return topic;
}

interface DashboardMetrics {
  alarms: Alarm[];
  eventsApplied: Metric;
  stageChanges: Metric;
  delivered: Metric;
  failed: Metric;
  exhausted: Metric;
}

/** The "funnel" dashboard: the path of an event from the API to the subscriber, then health. */
function createDashboard(scope: Construct, leadstage: Leadstage, m: DashboardMetrics): Dashboard {
  const { ingestQueue, ingestDlq, deliveryQueue, deliveryDlq, functions } = leadstage;
  const width = 8;
  const height = 6;
  const label = (key: FunctionKey) => ({ label: key });

  const dashboard = new Dashboard(scope, 'FunnelDashboard', {
    dashboardName: `${Stack.of(scope).stackName}-${Aws.REGION}-funnel`,
    defaultInterval: Duration.days(1),
  });
  dashboard.addWidgets(
    new AlarmStatusWidget({ title: 'Alarms', alarms: m.alarms, width: 24, height: 3 }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Events in (ingest queue, messages sent)',
      left: [
        ingestQueue.metricNumberOfMessagesSent({
          statistic: Stats.SUM,
          period: FIVE_MINUTES,
          label: 'events in',
        }),
      ],
      width,
      height,
    }),
    new GraphWidget({
      title: 'Events applied (duplicates left out)',
      left: [m.eventsApplied.with({ label: 'events applied' })],
      width,
      height,
    }),
    new GraphWidget({
      title: 'Stage changes',
      left: [m.stageChanges.with({ label: 'stage changes' })],
      width,
      height,
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Deliveries: delivered vs failed',
      left: [
        m.delivered.with({ label: 'delivered' }),
        m.failed.with({ label: 'failed (retry, exhausted, gone)' }),
        m.exhausted.with({ label: 'exhausted' }),
      ],
      width,
      height,
    }),
    new GraphWidget({
      title: 'DLQ depth (messages visible, max)',
      left: [
        ingestDlq.metricApproximateNumberOfMessagesVisible({
          statistic: Stats.MAXIMUM,
          period: ONE_MINUTE,
          label: 'ingest DLQ',
        }),
        deliveryDlq.metricApproximateNumberOfMessagesVisible({
          statistic: Stats.MAXIMUM,
          period: ONE_MINUTE,
          label: 'delivery DLQ',
        }),
      ],
      width,
      height,
    }),
    new GraphWidget({
      title: 'Age of oldest message (seconds, max)',
      left: [
        ingestQueue.metricApproximateAgeOfOldestMessage({
          statistic: Stats.MAXIMUM,
          period: ONE_MINUTE,
          label: 'ingest queue',
        }),
        deliveryQueue.metricApproximateAgeOfOldestMessage({
          statistic: Stats.MAXIMUM,
          period: ONE_MINUTE,
          label: 'delivery queue',
        }),
      ],
      leftAnnotations: [
        { value: INGEST_QUEUE_MAX_AGE.toSeconds(), label: 'ingest alarm' },
        { value: DELIVERY_QUEUE_MAX_AGE.toSeconds(), label: 'delivery alarm' },
      ],
      width,
      height,
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Function errors',
      left: FUNCTION_KEYS.map((key) =>
        functions[key].metricErrors({ statistic: Stats.SUM, period: FIVE_MINUTES, ...label(key) }),
      ),
      width,
      height,
    }),
    new GraphWidget({
      title: 'Function throttles',
      left: FUNCTION_KEYS.map((key) =>
        functions[key].metricThrottles({
          statistic: Stats.SUM,
          period: FIVE_MINUTES,
          ...label(key),
        }),
      ),
      width,
      height,
    }),
    new GraphWidget({
      title: 'Function duration p99 (ms)',
      left: FUNCTION_KEYS.map((key) =>
        functions[key].metricDuration({
          statistic: Stats.p(99),
          period: FIVE_MINUTES,
          ...label(key),
        }),
      ),
      width,
      height,
    }),
  );
  return dashboard;
}
