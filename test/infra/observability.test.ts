import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks, NagRuleCompliance, rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Leadstage } from '../../infra/leadstage.ts';
import {
  addObservability,
  type LeadstageObservability,
  LOG_METRICS,
  type ObservabilityProps,
} from '../../infra/observability.ts';
import { jsonLogger } from '../../lib/observability/logger.ts';

/** The feature flags of cdk.json, so the template under test is the one `cdk synth` makes. */
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

type Json = Record<string, unknown>;
type Resource = { Type: string; Properties: Json };

interface Built {
  stack: Stack;
  leadstage: Leadstage;
  observability: LeadstageObservability;
  template: Template;
  /** The resources created by addObservability (under `Observability`), by logical id. */
  own: (type: string) => Record<string, Resource>;
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A stack with one pipeline (not bundled: the template is all that is looked at). */
/** Synthesizing the whole construct tree takes seconds, more on a loaded machine. */
const SYNTH_TIMEOUT_MS = 60_000;

function build(props: (stack: Stack) => ObservabilityProps = () => ({})): Built {
  const outdir = mkdtempSync(join(tmpdir(), 'leadstage-observability-test-'));
  tempDirs.push(outdir);
  const app = new App({
    outdir,
    context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new Stack(app, 'Test');
  const leadstage = new Leadstage(stack, 'L', { removalPolicy: RemovalPolicy.DESTROY });
  const observability = addObservability(stack, leadstage, props(stack));
  const template = Template.fromStack(stack);
  // Only what addObservability made: the pipeline may have resources of the same types.
  const ownIds = new Set(
    stack.node
      .findChild('Observability')
      .node.findAll()
      .filter(CfnResource.isCfnResource)
      .map((resource) => stack.getLogicalId(resource)),
  );
  const own = (type: string) =>
    Object.fromEntries(
      Object.entries(template.findResources(type) as Record<string, Resource>).filter(([id]) =>
        ownIds.has(id),
      ),
    );
  return { stack, leadstage, observability, template, own };
}

/** The logical id of an L2 construct's CloudFormation resource. */
const logicalId = (construct: IConstruct): string =>
  Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);

const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });

/** The properties of one resource of the template; fails the test if it is missing. */
function propertiesOf(template: Template, type: string, construct: IConstruct): Json {
  const resource = (template.findResources(type) as Record<string, Resource>)[logicalId(construct)];
  if (resource === undefined)
    throw new Error(`${type} ${construct.node.path} is not in the template`);
  return resource.Properties;
}

/**
 * A CloudFormation string value with its intrinsics written out as placeholders: `Fn::Join`
 * joined, `{Ref: X}` as `<<X>>`, `{Fn::GetAtt: [X, A]}` as `<<X.A>>`.
 */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  const json = value as Json;
  if ('Fn::Join' in json) {
    const [separator, parts] = json['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(separator);
  }
  if ('Ref' in json) return `<<${json.Ref as string}>>`;
  if ('Fn::GetAtt' in json) return `<<${(json['Fn::GetAtt'] as string[]).join('.')}>>`;
  throw new Error(`cannot flatten ${JSON.stringify(value)}`);
}

/**
 * A tiny evaluator for the CloudWatch Logs JSON filter patterns used here: `$.field = "text"`,
 * `$.field != "text"`, `&&`, `||` and parentheses, on one JSON log line.
 */
function matches(pattern: string, line: Json): boolean {
  const body = pattern.trim();
  if (!body.startsWith('{') || !body.endsWith('}')) throw new Error(`not a JSON pattern: ${body}`);
  const tokens = body.slice(1, -1).match(/\$\.[\w.]+|!=|=|&&|\|\||\(|\)|"[^"]*"/g) ?? [];
  let at = 0;
  const next = () => tokens[at++];
  const expression = (): boolean => {
    let value = conjunction();
    while (tokens[at] === '||') {
      next();
      const right = conjunction();
      value = value || right;
    }
    return value;
  };
  const conjunction = (): boolean => {
    let value = term();
    while (tokens[at] === '&&') {
      next();
      const right = term();
      value = value && right;
    }
    return value;
  };
  const term = (): boolean => {
    const token = next();
    if (token === '(') {
      const value = expression();
      if (next() !== ')') throw new Error(`unbalanced parentheses in ${body}`);
      return value;
    }
    if (token === undefined || !token.startsWith('$.')) throw new Error(`bad pattern ${body}`);
    const operator = next();
    const literal = next();
    if (literal === undefined || !literal.startsWith('"')) throw new Error(`bad pattern ${body}`);
    const actual = token
      .slice(2)
      .split('.')
      .reduce<unknown>((object, key) => (object as Json | undefined)?.[key], line);
    const equal = actual === literal.slice(1, -1);
    if (operator === '=') return equal;
    if (operator === '!=') return !equal;
    throw new Error(`bad operator ${operator} in ${body}`);
  };
  const result = expression();
  if (at !== tokens.length) throw new Error(`trailing tokens in ${body}`);
  return result;
}

/** The JSON line the functions' logger writes (functions/shared.ts sets the `function` field). */
function logLine(message: string, fields: Record<string, unknown>): Json {
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    written.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    jsonLogger('info', { function: 'leadstage-fn' }).info(message, fields);
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(written.join('')) as Json;
}

describe('addObservability with the defaults', () => {
  let built: Built;
  let topicId: string;
  const alarm = (id: string): Alarm => {
    const found = built.observability.alarms.find((a) => a.node.id === id);
    if (found === undefined) throw new Error(`no alarm ${id}`);
    return found;
  };

  beforeAll(() => {
    built = build();
    topicId = logicalId(built.observability.topic);
  }, SYNTH_TIMEOUT_MS);

  it('creates one alarm topic, encrypted with a rotated key CloudWatch may use, TLS only', () => {
    const { template, own, observability } = built;
    expect(Object.keys(own('AWS::SNS::Topic'))).toEqual([topicId]);
    expect(observability.topic).toBeInstanceOf(Topic);
    const keys = own('AWS::KMS::Key');
    expect(Object.keys(keys)).toHaveLength(1);
    const [keyId, key] = Object.entries(keys)[0] as [string, Resource];
    expect(propertiesOf(template, 'AWS::SNS::Topic', observability.topic)).toMatchObject({
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const keyStatements = (key.Properties.KeyPolicy as { Statement: Json[] }).Statement;
    expect(keyStatements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );

    const policies = Object.values(own('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    const policy = policies[0] as Resource;
    expect(policy.Properties.Topics).toEqual([{ Ref: topicId }]);
    const statements = (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Principal: '*',
      }),
    );
    const publish = statements.find(
      (s) => s.Effect === 'Allow' && JSON.stringify(s.Principal).includes('cloudwatch'),
    );
    expect(publish).toMatchObject({ Action: 'sns:Publish', Resource: { Ref: topicId } });
    const condition = publish?.Condition as { ArnLike: { 'aws:SourceArn': unknown } };
    expect(flatten(condition.ArnLike['aws:SourceArn'])).toBe(
      'arn:<<AWS::Partition>>:cloudwatch:<<AWS::Region>>:<<AWS::AccountId>>:alarm:*',
    );

    const subscriptions = Object.values(
      template.findResources('AWS::SNS::Subscription', {
        Properties: { TopicArn: { Ref: topicId } },
      }),
    );
    expect(subscriptions).toEqual([]);
  });

  it('passes the cdk-nag AwsSolutions checks and the SNS encryption and TLS rules', () => {
    const report = new AwsSolutionsChecks().validateScope(
      built.stack.node.findChild('Observability'),
    );
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    // The AwsSolutions pack of cdk-nag 3 has no SNS2 any more; its rules are checked directly.
    const topic = built.observability.topic.node.defaultChild as CfnResource;
    expect(rules.sns.SNSEncryptedKMS(topic)).toBe(NagRuleCompliance.COMPLIANT);
    expect(rules.sns.SNSTopicSSLPublishOnly(topic)).toBe(NagRuleCompliance.COMPLIANT);
  });

  it('has thirteen alarms, each notifying the topic on ALARM and OK, missing data not breaching', () => {
    const { own, observability } = built;
    const alarms = own('AWS::CloudWatch::Alarm');
    expect(observability.alarms).toHaveLength(13);
    expect(Object.keys(alarms).sort()).toEqual(observability.alarms.map(logicalId).sort());
    for (const resource of Object.values(alarms)) {
      expect(resource.Properties).toMatchObject({
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topicId }],
        OKActions: [{ Ref: topicId }],
      });
      const description = resource.Properties.AlarmDescription as string;
      expect(description).toMatch(/^Leadstage: /);
      expect(description.length).toBeGreaterThan(150);
      expect(description.length).toBeLessThanOrEqual(1024);
    }
  });

  it('alarms on any message in either DLQ (max visible over 1 minute)', () => {
    const { template, leadstage } = built;
    for (const [id, dlq] of [
      ['IngestDlqDepthAlarm', leadstage.ingestDlq],
      ['DeliveryDlqDepthAlarm', leadstage.deliveryDlq],
    ] as const) {
      const properties = propertiesOf(template, 'AWS::CloudWatch::Alarm', alarm(id));
      expect(properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(dlq), 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 0,
      });
      expect(properties.AlarmDescription).toMatch(/redrive/);
    }
  });

  it('alarms on the age of the oldest message: ingest over 5 minutes, delivery over 30', () => {
    const { template, leadstage } = built;
    for (const [id, queue, seconds] of [
      ['IngestQueueAgeAlarm', leadstage.ingestQueue, 300],
      ['DeliveryQueueAgeAlarm', leadstage.deliveryQueue, 1800],
    ] as const) {
      expect(propertiesOf(template, 'AWS::CloudWatch::Alarm', alarm(id))).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(queue), 'QueueName'] } },
        ],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: seconds,
      });
    }
  });

  it('alarms on any error or throttle of each of the four functions (sum over 5 minutes)', () => {
    const { template, leadstage } = built;
    const { api, classify, deliver, sweep } = leadstage.functions;
    for (const [prefix, fn] of [
      ['Api', api],
      ['Classify', classify],
      ['Deliver', deliver],
      ['Sweep', sweep],
    ] as const) {
      for (const metricName of ['Errors', 'Throttles']) {
        expect(
          propertiesOf(template, 'AWS::CloudWatch::Alarm', alarm(`${prefix}${metricName}Alarm`)),
        ).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: metricName,
          Dimensions: [{ Name: 'FunctionName', Value: ref(fn) }],
          Statistic: 'Sum',
          Period: 300,
          Threshold: 0,
        });
      }
    }
  });

  it('alarms on any exhausted delivery, counted from the deliver logs', () => {
    const { template, leadstage } = built;
    expect(
      propertiesOf(template, 'AWS::CloudWatch::Alarm', alarm('DeliveriesExhaustedAlarm')),
    ).toMatchObject({
      Namespace: 'Leadstage',
      MetricName: 'DeliveriesExhausted',
      Dimensions: [{ Name: 'FunctionName', Value: ref(leadstage.functions.deliver) }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
    });
  });

  it('has the funnel metric filters on the classify and deliver log groups', () => {
    const { own, leadstage } = built;
    const { classify, deliver } = leadstage.functions;
    const filters = Object.values(own('AWS::Logs::MetricFilter')).map((f) => f.Properties);
    const expected = [
      [classify, 'EventsApplied', '{ $.message = "event applied" && $.outcome != "duplicate" }'],
      [classify, 'StageChanges', '{ $.message = "event applied" && $.outcome = "stage_changed" }'],
      [
        deliver,
        'DeliveriesDelivered',
        '{ $.message = "delivery attempt" && $.outcome = "delivered" }',
      ],
      [
        deliver,
        'DeliveriesFailed',
        '{ $.message = "delivery attempt" && ($.outcome = "retry" || $.outcome = "exhausted" || $.outcome = "gone") }',
      ],
      [
        deliver,
        'DeliveriesExhausted',
        '{ $.message = "delivery attempt" && $.outcome = "exhausted" }',
      ],
    ] as const;
    expect(filters).toHaveLength(expected.length);
    for (const [fn, metricName, pattern] of expected) {
      expect(filters).toContainEqual({
        LogGroupName: ref(fn.logGroup),
        FilterPattern: pattern,
        MetricTransformations: [
          {
            MetricNamespace: 'Leadstage',
            MetricName: metricName,
            MetricValue: '1',
            Dimensions: [{ Key: 'FunctionName', Value: '$.function' }],
          },
        ],
      });
    }
  });

  it('counts the log lines the workers write as intended', () => {
    const applied = (outcome: string) =>
      logLine('event applied', { eventId: 'e1', kind: 'form_submitted', outcome });
    const attempt = (outcome: string) =>
      logLine('delivery attempt', { deliveryId: 'd1', subscriptionId: 's1', outcome });
    const cases: [keyof typeof LOG_METRICS, Json, boolean][] = [
      ['EventsApplied', applied('applied'), true],
      ['EventsApplied', applied('stage_changed'), true],
      ['EventsApplied', applied('erased'), true],
      ['EventsApplied', applied('duplicate'), false],
      ['EventsApplied', attempt('delivered'), false],
      ['StageChanges', applied('stage_changed'), true],
      ['StageChanges', applied('applied'), false],
      ['DeliveriesDelivered', attempt('delivered'), true],
      ['DeliveriesDelivered', attempt('retry'), false],
      ['DeliveriesFailed', attempt('retry'), true],
      ['DeliveriesFailed', attempt('exhausted'), true],
      ['DeliveriesFailed', attempt('gone'), true],
      ['DeliveriesFailed', attempt('delivered'), false],
      ['DeliveriesFailed', applied('retry'), false],
      ['DeliveriesExhausted', attempt('exhausted'), true],
      ['DeliveriesExhausted', attempt('retry'), false],
    ];
    for (const [metric, line, expected] of cases) {
      expect({ metric, line, matched: matches(LOG_METRICS[metric], line) }).toEqual({
        metric,
        line,
        matched: expected,
      });
    }
    // The dimension of every log metric comes from the `function` field of each line.
    expect(attempt('retry').function).toBe('leadstage-fn');
  });

  describe('the funnel dashboard', () => {
    type Widget = { type: string; properties: Json };
    let widgets: Widget[];
    const widget = (title: string): Widget => {
      const found = widgets.find((w) => w.properties.title === title);
      if (found === undefined) throw new Error(`no widget "${title}"`);
      return found;
    };
    /** The metrics of a graph widget, as `[namespace, name, ...dimension pairs]` without options. */
    const metricsOf = (title: string): unknown[][] =>
      (widget(title).properties.metrics as unknown[][]).map((metric) =>
        metric.filter((part) => typeof part === 'string'),
      );
    const queue = (construct: IConstruct) => `<<${logicalId(construct)}.QueueName>>`;
    const fn = (construct: IConstruct) => `<<${logicalId(construct)}>>`;

    beforeAll(() => {
      const dashboards = Object.values(built.own('AWS::CloudWatch::Dashboard'));
      expect(dashboards).toHaveLength(1);
      const properties = (dashboards[0] as Resource).Properties;
      expect(flatten(properties.DashboardName)).toBe('Test-<<AWS::Region>>-funnel');
      widgets = (JSON.parse(flatten(properties.DashboardBody)) as { widgets: Widget[] }).widgets;
    });

    it('has the alarm status and the nine graphs', () => {
      expect(widgets.map((w) => [w.type, w.properties.title])).toEqual([
        ['alarm', 'Alarms'],
        ['metric', 'Events in (ingest queue, messages sent)'],
        ['metric', 'Events applied (duplicates left out)'],
        ['metric', 'Stage changes'],
        ['metric', 'Deliveries: delivered vs failed'],
        ['metric', 'DLQ depth (messages visible, max)'],
        ['metric', 'Age of oldest message (seconds, max)'],
        ['metric', 'Function errors'],
        ['metric', 'Function throttles'],
        ['metric', 'Function duration p99 (ms)'],
      ]);
      expect(widget('Alarms').properties.alarms).toHaveLength(13);
    });

    it('graphs the funnel: events in, applied, stage changes, deliveries', () => {
      const { ingestQueue, functions } = built.leadstage;
      expect(metricsOf('Events in (ingest queue, messages sent)')).toEqual([
        ['AWS/SQS', 'NumberOfMessagesSent', 'QueueName', queue(ingestQueue)],
      ]);
      const classify = fn(functions.classify);
      const deliver = fn(functions.deliver);
      expect(metricsOf('Events applied (duplicates left out)')).toEqual([
        ['Leadstage', 'EventsApplied', 'FunctionName', classify],
      ]);
      expect(metricsOf('Stage changes')).toEqual([
        ['Leadstage', 'StageChanges', 'FunctionName', classify],
      ]);
      expect(metricsOf('Deliveries: delivered vs failed')).toEqual([
        ['Leadstage', 'DeliveriesDelivered', 'FunctionName', deliver],
        ['Leadstage', 'DeliveriesFailed', 'FunctionName', deliver],
        ['Leadstage', 'DeliveriesExhausted', 'FunctionName', deliver],
      ]);
    });

    it('graphs the queues: DLQ depths and ages, with the alarm thresholds', () => {
      const { ingestQueue, ingestDlq, deliveryQueue, deliveryDlq } = built.leadstage;
      expect(metricsOf('DLQ depth (messages visible, max)')).toEqual([
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue(ingestDlq)],
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue(deliveryDlq)],
      ]);
      expect(metricsOf('Age of oldest message (seconds, max)')).toEqual([
        ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', queue(ingestQueue)],
        ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', queue(deliveryQueue)],
      ]);
      const annotations = widget('Age of oldest message (seconds, max)').properties.annotations as {
        horizontal: { value: number }[];
      };
      expect(annotations.horizontal.map((a) => a.value)).toEqual([300, 1800]);
    });

    it('graphs errors, throttles and p99 duration of all four functions', () => {
      const { api, classify, deliver, sweep } = built.leadstage.functions;
      const all = [api, classify, deliver, sweep].map(fn);
      for (const [title, metricName] of [
        ['Function errors', 'Errors'],
        ['Function throttles', 'Throttles'],
        ['Function duration p99 (ms)', 'Duration'],
      ] as const) {
        expect(metricsOf(title)).toEqual(
          all.map((name) => ['AWS/Lambda', metricName, 'FunctionName', name]),
        );
      }
      const durations = widget('Function duration p99 (ms)').properties.metrics as unknown[][];
      for (const metric of durations) expect(metric.at(-1)).toMatchObject({ stat: 'p99' });
    });
  });
});

describe('addObservability with an alarm email', () => {
  it('subscribes the address to the new topic', () => {
    const { template, observability } = build(() => ({ alarmEmail: 'oncall@example.com' }));
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: ref(observability.topic),
    });
  });

  it('rejects something that is not an email address', () => {
    expect(() => build(() => ({ alarmEmail: 'oncall' }))).toThrow(/not an email address/);
  });
});

describe('addObservability with an alarm topic', () => {
  const pagerArn = 'arn:aws:sns:eu-west-1:123456789012:pager';
  let given: ITopic;
  let built: Built;

  beforeAll(() => {
    built = build((stack) => {
      given = Topic.fromTopicArn(stack, 'Pager', pagerArn);
      return { alarmTopic: given };
    });
  }, SYNTH_TIMEOUT_MS);

  it('creates no topic, key or subscription of its own', () => {
    const { own, observability, template } = built;
    expect(observability.topic).toBe(given);
    expect(own('AWS::SNS::Topic')).toEqual({});
    expect(own('AWS::SNS::TopicPolicy')).toEqual({});
    expect(own('AWS::KMS::Key')).toEqual({});
    expect(template.findResources('AWS::SNS::Subscription')).toEqual({});
  });

  it('points every alarm at the given topic', () => {
    const alarms = Object.values(built.own('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(13);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({ AlarmActions: [pagerArn], OKActions: [pagerArn] });
    }
  });

  it('subscribes an alarm email to the given topic', () => {
    const { template } = build((stack) => ({
      alarmTopic: Topic.fromTopicArn(stack, 'Pager', pagerArn),
      alarmEmail: 'oncall@example.com',
    }));
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: pagerArn,
    });
  });
});
