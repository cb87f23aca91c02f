import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, type CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMAIL_PROVIDERS, Leadstage, type LeadstageProps } from '../../infra/leadstage.ts';
import { LeadstageStack, type LeadstageStackProps } from '../../infra/leadstage-stack.ts';
import { isAgeingTask } from '../../lib/classify/age-contacts.ts';
import { GLOBAL_INDEXES } from '../../lib/store/table.ts';

/** The feature flags of cdk.json, so the template under test is the one `cdk synth` makes. */
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/** A secret created outside Leadstage, as `aws secretsmanager create-secret` prints it. */
const PROVIDERS_SECRET_ARN =
  'arn:aws:secretsmanager:eu-central-1:123456789012:secret:leadstage/providers-AbCdEf';
const CERTIFICATE_ARN =
  'arn:aws:acm:eu-central-1:123456789012:certificate/0e4b1f5c-1111-2222-3333-444455556666';

interface Synthesized {
  app: App;
  stack: LeadstageStack;
  template: Template;
}

/**
 * Synthesizes the stack. `bundle: false` skips esbuild (the assets then point at the source
 * directory), for the tests that only look at the template.
 */
function synth(props: LeadstageStackProps = {}, { bundle }: { bundle: boolean }): Synthesized {
  const app = new App({
    outdir: tempDir(),
    context: { ...cdkJson.context, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new LeadstageStack(app, 'Leadstage', props);
  return { app, stack, template: Template.fromStack(stack) };
}

/** A synth (with esbuild, or the full construct tree) in a hook may take this long. */
const SYNTH_TIMEOUT_MS = 120_000;

const tempDirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'leadstage-infra-test-'));
  tempDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

type Json = Record<string, unknown>;
type Resource = { Type: string; Properties: Json };

/** The logical id of an L2 construct's CloudFormation resource. */
const logicalId = (construct: IConstruct): string =>
  Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);

/** The properties of one resource of the template; fails the test if it is missing. */
function propertiesOf(template: Template, type: string, construct: IConstruct): Json {
  const resource = (template.findResources(type) as Record<string, Resource>)[logicalId(construct)];
  if (resource === undefined)
    throw new Error(`${type} ${construct.node.path} is not in the template`);
  return resource.Properties;
}

const functionProperties = (template: Template, fn: NodejsFunction): Json =>
  propertiesOf(template, 'AWS::Lambda::Function', fn);

const environmentOf = (template: Template, fn: NodejsFunction): Json =>
  (functionProperties(template, fn).Environment as { Variables: Json }).Variables;

const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * The values in a stable order, for comparing sets of CloudFormation values (objects such as
 * `Fn::GetAtt`, which a bare `.sort()` leaves in place: they all stringify alike).
 */
const sorted = (values: unknown[]): unknown[] =>
  values
    .map((value) => [JSON.stringify(value), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, value]) => value);

/** Every IAM statement attached to the function's execution role. */
function statementsOf(template: Template, fn: NodejsFunction): Json[] {
  if (fn.role === undefined) throw new Error(`${fn.node.path} has no role`);
  const roleId = logicalId(fn.role);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  return policies
    .filter((policy) =>
      asArray(policy.Properties.Roles as Json[]).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement);
}

/** The resources the role may perform `action` on (exact action names, no wildcards). */
function resourcesAllowed(template: Template, fn: NodejsFunction, action: string): unknown[] {
  return statementsOf(template, fn)
    .filter((s) => s.Effect === 'Allow' && asArray(s.Action as string | string[]).includes(action))
    .flatMap((s) => asArray(s.Resource));
}

describe('Leadstage stack (bundled with the local esbuild)', () => {
  let synthesized: Synthesized;
  let template: Template;
  let leadstage: Leadstage;

  // Bundling four functions takes several seconds, more on a loaded machine.
  beforeAll(() => {
    synthesized = synth({}, { bundle: true });
    template = synthesized.template;
    leadstage = synthesized.stack.leadstage;
  }, SYNTH_TIMEOUT_MS);

  it('has one on-demand table with pk/sk, point-in-time recovery and TTL on expiresAt', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]),
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('sends failing messages of both queues to their own DLQ after 5 receives', () => {
    template.resourceCountIs('AWS::SQS::Queue', 4);
    for (const [queue, dlq] of [
      [leadstage.ingestQueue, leadstage.ingestDlq],
      [leadstage.deliveryQueue, leadstage.deliveryDlq],
    ] as const) {
      expect(propertiesOf(template, 'AWS::SQS::Queue', queue)).toMatchObject({
        RedrivePolicy: { deadLetterTargetArn: getAtt(logicalId(dlq)), maxReceiveCount: 5 },
        MessageRetentionPeriod: 14 * 24 * 3600,
        SqsManagedSseEnabled: true,
      });
      const dlqProperties = propertiesOf(template, 'AWS::SQS::Queue', dlq);
      expect(dlqProperties).toMatchObject({ MessageRetentionPeriod: 14 * 24 * 3600 });
      expect(dlqProperties.RedrivePolicy).toBeUndefined();
    }
  });

  it('denies non-TLS access to every queue', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as Resource[];
    const covered = policies
      .filter((policy) =>
        (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement.some(
          (s) =>
            s.Effect === 'Deny' &&
            JSON.stringify(s.Condition) ===
              JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
        ),
      )
      .flatMap((policy) => policy.Properties.Queues as unknown[]);
    const all = [
      leadstage.ingestQueue,
      leadstage.ingestDlq,
      leadstage.deliveryQueue,
      leadstage.deliveryDlq,
    ];
    expect(covered).toEqual(expect.arrayContaining(all.map((q) => ({ Ref: logicalId(q) }))));
  });

  it('has exactly four functions, all nodejs22.x on arm64 with source maps shipped but off at runtime', () => {
    template.resourceCountIs('AWS::Lambda::Function', 4);
    expect(Object.keys(leadstage.functions).sort()).toEqual([
      'api',
      'classify',
      'deliver',
      'sweep',
    ]);
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
      // Source maps ship in the asset, but are not enabled at runtime (cold-start cost).
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      expect(variables.NODE_OPTIONS).toBeUndefined();
    }
  });

  it('gives every function the table and both queue URLs, and no config by default', () => {
    const { api, classify, deliver, sweep } = leadstage.functions;
    for (const fn of [api, classify, deliver, sweep]) {
      const variables = environmentOf(template, fn);
      expect(variables).toMatchObject({
        TABLE_NAME: { Ref: logicalId(leadstage.table) },
        INGEST_QUEUE_URL: { Ref: logicalId(leadstage.ingestQueue) },
        DELIVERY_QUEUE_URL: { Ref: logicalId(leadstage.deliveryQueue) },
      });
      expect(variables).not.toHaveProperty('LEADSTAGE_CONFIG_JSON');
      expect(variables).not.toHaveProperty('LEADSTAGE_PROVIDERS_SECRET_ARN');
    }
  });

  it('creates a secret with a generated 48-character key and gives only the api function its ARN', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    expect(
      propertiesOf(template, 'AWS::SecretsManager::Secret', leadstage.apiKeysSecret),
    ).toMatchObject({
      GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true, IncludeSpace: false },
    });
    // Only generated: no value in the template, and no key/value template for a JSON document.
    const secret = propertiesOf(template, 'AWS::SecretsManager::Secret', leadstage.apiKeysSecret);
    expect(secret).not.toHaveProperty('SecretString');
    expect(secret.GenerateSecretString).not.toHaveProperty('SecretStringTemplate');
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });

    const { api, classify, deliver, sweep } = leadstage.functions;
    expect(environmentOf(template, api).LEADSTAGE_API_KEYS_SECRET_ARN).toEqual({
      Ref: logicalId(leadstage.apiKeysSecret as Secret),
    });
    for (const fn of [classify, deliver, sweep]) {
      expect(environmentOf(template, fn)).not.toHaveProperty('LEADSTAGE_API_KEYS_SECRET_ARN');
    }
  });

  it('lets the api function read the API key secret, with GetSecretValue only, and no other function', () => {
    const { api, classify, deliver, sweep } = leadstage.functions;
    const secretRef = { Ref: logicalId(leadstage.apiKeysSecret as Secret) };
    expect(resourcesAllowed(template, api, 'secretsmanager:GetSecretValue')).toEqual([secretRef]);
    const secretStatements = statementsOf(template, api).filter((s) =>
      asArray(s.Action as string | string[]).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toHaveLength(1);
    expect(secretStatements[0]?.Action).toBe('secretsmanager:GetSecretValue');
    for (const fn of [classify, deliver, sweep]) {
      const actions = statementsOf(template, fn).flatMap((s) =>
        asArray(s.Action as string | string[]),
      );
      expect(actions.filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
    }
  });

  it('puts no secret into any environment: no hashes, no keys, no dynamic secret references', () => {
    const secretId = logicalId(leadstage.apiKeysSecret as Secret);
    for (const fn of Object.values(leadstage.functions)) {
      const variables = environmentOf(template, fn);
      for (const [name, value] of Object.entries(variables)) {
        expect(name).not.toMatch(/HASH/i);
        const text = JSON.stringify(value);
        expect(text, name).not.toContain('resolve:secretsmanager');
        expect(text, name).not.toContain('SecretString');
        // The secret is only ever referenced by its ARN (Ref), never by an attribute.
        if (text.includes(secretId)) expect(value, name).toEqual({ Ref: secretId });
      }
    }
  });

  it('gives each function a role of its own that may write its own log group and nothing else in CloudWatch Logs', () => {
    const roles = new Set<string>();
    for (const [name, fn] of Object.entries(leadstage.functions)) {
      if (fn.role === undefined) throw new Error(`${name} has no role`);
      roles.add(logicalId(fn.role));
      const role = propertiesOf(template, 'AWS::IAM::Role', fn.role);
      // No AWSLambdaBasicExecutionRole (logs:CreateLogGroup and writes to every group).
      expect(role.ManagedPolicyArns, name).toBeUndefined();
      const logStatements = statementsOf(template, fn).filter((s) =>
        asArray(s.Action as string | string[]).some((a) => a.startsWith('logs:')),
      );
      const actions = logStatements.flatMap((s) => asArray(s.Action as string | string[]));
      expect(actions.sort(), name).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      const resources = logStatements.flatMap((s) => asArray(s.Resource));
      expect(resources, name).toEqual([getAtt(logicalId(fn.logGroup as unknown as IConstruct))]);
      expect(functionProperties(template, fn).LoggingConfig, name).toEqual({
        LogGroup: { Ref: logicalId(fn.logGroup as unknown as IConstruct) },
      });
    }
    expect(roles.size).toBe(4);
  });

  it('protects the retained table from deletion (RemovalPolicy.RETAIN is the default)', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: { DeletionProtectionEnabled: true },
    });
  });

  it('throttles the API stage at 100 requests per second, bursts of 200, by default', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    expect(propertiesOf(template, 'AWS::ApiGatewayV2::Stage', leadstage.stage)).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });

  it('gives the public form route a tighter throttle of its own (20 per second, bursts of 40)', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
    expect(routes.map((route) => route.Properties.RouteKey).sort()).toEqual([
      '$default',
      'POST /v1/forms/{formId}/submissions',
    ]);
    // Both routes invoke the one api function.
    expect(new Set(routes.map((route) => JSON.stringify(route.Properties.Target))).size).toBe(1);
    expect(propertiesOf(template, 'AWS::ApiGatewayV2::Stage', leadstage.stage)).toMatchObject({
      RouteSettings: {
        'POST /v1/forms/{formId}/submissions': {
          ThrottlingRateLimit: 20,
          ThrottlingBurstLimit: 40,
        },
      },
    });
    const { template: custom, stack } = synth(
      { formThrottle: { rateLimit: 5, burstLimit: 10 } },
      { bundle: false },
    );
    expect(propertiesOf(custom, 'AWS::ApiGatewayV2::Stage', stack.leadstage.stage)).toMatchObject({
      RouteSettings: {
        'POST /v1/forms/{formId}/submissions': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      },
    });
  });

  it('writes JSON access logs of the API to a log group of its own, without query strings', () => {
    const stage = propertiesOf(template, 'AWS::ApiGatewayV2::Stage', leadstage.stage);
    const settings = stage.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(settings.DestinationArn).toEqual(getAtt(logicalId(leadstage.accessLogs)));
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      path: '$context.path',
    });
    expect(settings.Format).not.toMatch(/querystring|header|body/i);
    expect(propertiesOf(template, 'AWS::Logs::LogGroup', leadstage.accessLogs)).toMatchObject({
      RetentionInDays: 30,
    });
  });

  it('bounds each worker at 10 concurrent instances by default', () => {
    for (const fn of [leadstage.functions.classify, leadstage.functions.deliver]) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalId(fn) },
        ScalingConfig: { MaximumConcurrency: 10 },
      });
    }
  });

  it('outputs the API URL, a webhook URL per email provider, the form URL pattern and how to fetch the API key', () => {
    const url = leadstage.url;
    expect(EMAIL_PROVIDERS).toEqual(['postmark', 'mailgun', 'sendgrid', 'ses', 'generic']);
    const outputs = template.findOutputs('*') as Record<string, { Value: unknown }>;
    const resolve = (value: string) => synthesized.stack.resolve(value);
    expect(outputs.ApiUrl?.Value).toEqual(resolve(url));
    for (const provider of EMAIL_PROVIDERS) {
      const id = `${provider.charAt(0).toUpperCase()}${provider.slice(1)}WebhookUrl`;
      expect(outputs[id]?.Value, id).toEqual(resolve(`${url}v1/webhooks/email/${provider}`));
    }
    expect(outputs.FormSubmissionUrlPattern?.Value).toEqual(
      resolve(`${url}v1/forms/{formId}/submissions`),
    );
    const secretRef = { Ref: logicalId(leadstage.apiKeysSecret as Secret) };
    expect(outputs.ApiKeySecretArn?.Value).toEqual(secretRef);
    expect(outputs.FetchApiKeyCommand?.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'aws secretsmanager get-secret-value --secret-id ',
          secretRef,
          ' --query SecretString --output text --region ',
          { Ref: 'AWS::Region' },
        ],
      ],
    });
    expect(outputs.ApiFunctionName?.Value).toEqual({ Ref: logicalId(leadstage.functions.api) });
    expect(outputs).not.toHaveProperty('CustomDomainUrl');
  });

  it('sets timeouts and memory per function', () => {
    const { api, classify, deliver, sweep } = leadstage.functions;
    expect(functionProperties(template, api)).toMatchObject({ Timeout: 10, MemorySize: 512 });
    expect(functionProperties(template, classify)).toMatchObject({ Timeout: 30 });
    expect(functionProperties(template, deliver)).toMatchObject({ Timeout: 30 });
    expect(functionProperties(template, sweep)).toMatchObject({ Timeout: 60, MemorySize: 256 });
  });

  it('feeds classify from the ingest queue and deliver from the delivery queue, reporting partial batch failures', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    for (const [queue, fn] of [
      [leadstage.ingestQueue, leadstage.functions.classify],
      [leadstage.deliveryQueue, leadstage.functions.deliver],
    ] as const) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: getAtt(logicalId(queue)),
        FunctionName: { Ref: logicalId(fn) },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: 1,
      });
    }
  });

  it('gives each consumed queue a visibility timeout of at least 6x its function timeout', () => {
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const mappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping'),
    ) as Resource[];
    expect(mappings).toHaveLength(2);
    for (const mapping of mappings) {
      const [queueId] = (mapping.Properties.EventSourceArn as { 'Fn::GetAtt': [string, string] })[
        'Fn::GetAtt'
      ];
      const functionId = (mapping.Properties.FunctionName as { Ref: string }).Ref;
      const visibility = queues[queueId]?.Properties.VisibilityTimeout;
      const timeout = functions[functionId]?.Properties.Timeout;
      expect(timeout).toBeTypeOf('number');
      expect(visibility).toBeTypeOf('number');
      expect(timeout as number).toBeGreaterThan(0);
      expect(visibility as number).toBeGreaterThanOrEqual(6 * (timeout as number));
    }
  });

  it('routes every request of an HTTP API to the api function', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: getAtt(logicalId(leadstage.functions.api)),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
    });
    template.hasOutput('ApiUrl', {});
  });

  it('lets the api function send to the two source queues only, and consume neither', () => {
    const { api } = leadstage.functions;
    const ingest = getAtt(logicalId(leadstage.ingestQueue));
    const delivery = getAtt(logicalId(leadstage.deliveryQueue));
    // Events; erasure notices and re-purges; redriven dead letters.
    expect(sorted(resourcesAllowed(template, api, 'sqs:SendMessage'))).toEqual(
      sorted([delivery, ingest]),
    );
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage']) {
      const resources = resourcesAllowed(template, api, action);
      expect(resources, action).not.toContainEqual(ingest);
      expect(resources, action).not.toContainEqual(delivery);
    }
  });

  it('lets the api function look into and empty the two DLQs (the dead-letter API), nothing more', () => {
    const { api } = leadstage.functions;
    const dlqs = sorted([
      getAtt(logicalId(leadstage.ingestDlq)),
      getAtt(logicalId(leadstage.deliveryDlq)),
    ]);
    for (const action of [
      'sqs:ReceiveMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
    ]) {
      expect(sorted(resourcesAllowed(template, api, action)), action).toEqual(dlqs);
    }
    // The DLQs' counts; grantSendMessages adds the source queues.
    expect(sorted(resourcesAllowed(template, api, 'sqs:GetQueueAttributes'))).toEqual(
      sorted([
        ...dlqs,
        getAtt(logicalId(leadstage.ingestQueue)),
        getAtt(logicalId(leadstage.deliveryQueue)),
      ]),
    );
    const sqsStatements = statementsOf(template, api).filter((s) =>
      asArray(s.Action as string | string[]).some((a) => a.startsWith('sqs:')),
    );
    const actions = new Set(sqsStatements.flatMap((s) => asArray(s.Action as string | string[])));
    expect([...actions].sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
    ]);
    // GetQueueUrl comes with grantSendMessages on the source queues, never on a DLQ.
    for (const dlq of dlqs) {
      expect(resourcesAllowed(template, api, 'sqs:GetQueueUrl')).not.toContainEqual(dlq);
      expect(resourcesAllowed(template, api, 'sqs:SendMessage')).not.toContainEqual(dlq);
    }
  });

  it('gives the api function the DLQ URLs and the maxReceiveCount the dead-letter API reports', () => {
    expect(environmentOf(template, leadstage.functions.api)).toMatchObject({
      INGEST_DLQ_URL: { Ref: logicalId(leadstage.ingestDlq) },
      DELIVERY_DLQ_URL: { Ref: logicalId(leadstage.deliveryDlq) },
      MAX_RECEIVE_COUNT: '5',
    });
  });

  it('declares the indexes of lib/store/table.ts on the table', () => {
    const table = Object.values(template.findResources('AWS::DynamoDB::Table'))[0] as {
      Properties: {
        GlobalSecondaryIndexes: { IndexName: string; KeySchema: unknown; Projection: unknown }[];
      };
    };
    expect(table.Properties.GlobalSecondaryIndexes.map((index) => index.IndexName).sort()).toEqual(
      GLOBAL_INDEXES.map((index) => index.IndexName).sort(),
    );
    for (const index of GLOBAL_INDEXES) {
      const declared = table.Properties.GlobalSecondaryIndexes.find(
        (d) => d.IndexName === index.IndexName,
      );
      expect(declared?.KeySchema).toEqual(index.KeySchema);
      expect(declared?.Projection).toEqual({
        ProjectionType: 'INCLUDE',
        NonKeyAttributes: index.Projection?.NonKeyAttributes,
      });
    }
  });

  it('lets classify send to the delivery queue and its own DLQ only and consume the ingest queue only', () => {
    const { classify } = leadstage.functions;
    const ingest = getAtt(logicalId(leadstage.ingestQueue));
    const delivery = getAtt(logicalId(leadstage.deliveryQueue));
    const ingestDlq = getAtt(logicalId(leadstage.ingestDlq));
    expect(sorted(resourcesAllowed(template, classify, 'sqs:SendMessage'))).toEqual(
      sorted([delivery, ingestDlq]),
    );
    expect(resourcesAllowed(template, classify, 'sqs:ReceiveMessage')).toEqual([ingest]);
    expect(resourcesAllowed(template, classify, 'sqs:DeleteMessage')).toEqual([ingest]);
  });

  it('lets deliver consume the delivery queue and send only to it (delayed retries) and its DLQ', () => {
    const { deliver } = leadstage.functions;
    const delivery = getAtt(logicalId(leadstage.deliveryQueue));
    const deliveryDlq = getAtt(logicalId(leadstage.deliveryDlq));
    expect(sorted(resourcesAllowed(template, deliver, 'sqs:SendMessage'))).toEqual(
      sorted([delivery, deliveryDlq]),
    );
    expect(resourcesAllowed(template, deliver, 'sqs:ReceiveMessage')).toEqual([delivery]);
    expect(resourcesAllowed(template, deliver, 'sqs:DeleteMessage')).toEqual([delivery]);
  });

  it('lets sweep send to the delivery queue (due deliveries) and the ingest queue (refreshes of the ageing pass) only, consume no queue, and touch nothing but the table', () => {
    const { sweep } = leadstage.functions;
    const delivery = getAtt(logicalId(leadstage.deliveryQueue));
    const ingest = getAtt(logicalId(leadstage.ingestQueue));
    const tableArn = getAtt(logicalId(leadstage.table));
    const tableIndexes = { 'Fn::Join': ['', [tableArn, '/index/*']] };
    expect(sorted(resourcesAllowed(template, sweep, 'sqs:SendMessage'))).toEqual(
      sorted([delivery, ingest]),
    );
    for (const action of [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility',
    ]) {
      expect(resourcesAllowed(template, sweep, action), action).toEqual([]);
    }
    // No event source: the schedule invokes it, no queue feeds it.
    template.resourcePropertiesCountIs(
      'AWS::Lambda::EventSourceMapping',
      { FunctionName: { Ref: logicalId(sweep) } },
      0,
    );

    const statements = statementsOf(template, sweep);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      const actions = asArray(statement.Action as string | string[]);
      const resources = asArray(statement.Resource);
      if (actions.every((a) => a.startsWith('sqs:'))) {
        expect(resources.length).toBeGreaterThan(0);
        for (const resource of resources) expect([delivery, ingest]).toContainEqual(resource);
      } else if (actions.every((a) => a.startsWith('dynamodb:'))) {
        expect(resources.length).toBeGreaterThan(0);
        for (const resource of resources) expect([tableArn, tableIndexes]).toContainEqual(resource);
      } else if (actions.every((a) => a.startsWith('logs:'))) {
        expect(resources).toEqual([getAtt(logicalId(sweep.logGroup as unknown as IConstruct))]);
      } else {
        throw new Error(`sweep has an unexpected statement: ${JSON.stringify(statement)}`);
      }
    }
    const dynamoActions = statements
      .flatMap((s) => asArray(s.Action as string | string[]))
      .filter((a) => a.startsWith('dynamodb:'));
    // What the sweep does: query the pending-deliveries index, move each delivery on.
    expect(dynamoActions).toEqual(
      expect.arrayContaining(['dynamodb:Query', 'dynamodb:UpdateItem']),
    );
  });

  it('grants no function a wildcard action or a wildcard resource', () => {
    for (const [name, fn] of Object.entries(leadstage.functions)) {
      for (const statement of statementsOf(template, fn)) {
        const actions = asArray(statement.Action as string | string[]);
        expect(actions, name).not.toContain('sqs:*');
        expect(actions, name).not.toContain('dynamodb:*');
        expect(actions, name).not.toContain('*');
        for (const action of actions) expect(action, `${name}: ${action}`).not.toContain('*');
        expect(asArray(statement.Resource), name).not.toContain('*');
      }
    }
  });

  it('runs the sweep function every minute, and the ageing pass daily, from two EventBridge rules without retries', () => {
    const { sweep } = leadstage.functions;
    const rules = template.findResources('AWS::Events::Rule') as Record<string, Resource>;
    const bySchedule = new Map(
      Object.entries(rules).map(([id, rule]) => [String(rule.Properties.ScheduleExpression), id]),
    );
    expect([...bySchedule.keys()].sort()).toEqual(['cron(17 3 * * ? *)', 'rate(1 minute)']);
    const sweepRule = bySchedule.get('rate(1 minute)') as string;
    const ageingRule = bySchedule.get('cron(17 3 * * ? *)') as string;
    for (const ruleId of [sweepRule, ageingRule]) {
      expect(rules[ruleId]?.Properties).toMatchObject({ State: 'ENABLED' });
      const targets = rules[ruleId]?.Properties.Targets as Json[];
      expect(targets).toHaveLength(1);
      expect(targets[0]).toMatchObject({
        Arn: getAtt(logicalId(sweep)),
        RetryPolicy: { MaximumRetryAttempts: 0 },
      });
    }
    // The minute's sweep gets EventBridge's own event; the daily rule names the ageing task,
    // which functions/sweep.ts tells apart.
    const targetOf = (ruleId: string) =>
      (rules[ruleId]?.Properties.Targets as Json[] | undefined)?.[0] as Record<string, unknown>;
    const sweepTarget = targetOf(sweepRule);
    expect(sweepTarget).not.toHaveProperty('Input');
    const ageingInput = JSON.parse(String(targetOf(ageingRule).Input));
    expect(ageingInput).toEqual({ task: 'age-contacts' });
    expect(isAgeingTask(ageingInput)).toBe(true);
    // EventBridge may invoke the sweep function, from these rules only, and no other function.
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'events.amazonaws.com' },
      }),
    ) as Resource[];
    expect(permissions).toHaveLength(2);
    expect(permissions.map((permission) => permission.Properties.SourceArn)).toEqual(
      expect.arrayContaining([getAtt(sweepRule), getAtt(ageingRule)]),
    );
    for (const permission of permissions) {
      expect(permission.Properties).toMatchObject({
        Action: 'lambda:InvokeFunction',
        FunctionName: getAtt(logicalId(sweep)),
      });
    }
  });

  it('lets every function read and write the table, and nothing else in DynamoDB', () => {
    const tableArn = getAtt(logicalId(leadstage.table));
    for (const fn of Object.values(leadstage.functions)) {
      const dynamo = statementsOf(template, fn).filter((s) =>
        asArray(s.Action as string | string[]).some((a) => a.startsWith('dynamodb:')),
      );
      const actions = dynamo.flatMap((s) => asArray(s.Action as string | string[]));
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query']));
      expect(actions).not.toContain('dynamodb:*');
      expect(actions).not.toContain('dynamodb:DeleteTable');
      for (const resource of dynamo.flatMap((s) => asArray(s.Resource))) {
        // The table itself or its indexes (`<arn>/index/*`).
        expect(JSON.stringify(resource)).toContain(JSON.stringify(tableArn));
      }
    }
  });

  it('bundles each function into a minified ESM file with a source map and a require shim', () => {
    const assemblyDir = synthesized.app.synth().directory;
    for (const fn of Object.values(leadstage.functions)) {
      const code = functionProperties(template, fn).Code as { S3Key: string };
      const assetDir = join(assemblyDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
      const bundle = join(assetDir, 'index.mjs');
      expect(existsSync(bundle), bundle).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      const source = readFileSync(bundle, 'utf8');
      expect(
        source.startsWith(
          "import { createRequire as __leadstageCreateRequire } from 'node:module';",
        ),
      ).toBe(true);
      expect(source).toContain('sourceMappingURL=index.mjs.map');
      // Minified: long lines (newlines left are mostly inside template literals).
      expect(source.length / source.split('\n').length).toBeGreaterThan(1000);
    }
  });

  it("copies the project's web/ folder (the funnel page) into the api bundle only", () => {
    const assemblyDir = synthesized.app.synth().directory;
    const webDir = fileURLToPath(new URL('../../web/', import.meta.url));
    const pageFiles = readdirSync(webDir, { recursive: true, encoding: 'utf8' }).sort();
    expect(pageFiles).toContain('index.html');
    const assetOf = (fn: NodejsFunction) =>
      join(
        assemblyDir,
        `asset.${(functionProperties(template, fn).Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`,
      );
    const apiWeb = join(assetOf(leadstage.functions.api), 'web');
    expect(readdirSync(apiWeb, { recursive: true, encoding: 'utf8' }).sort()).toEqual(pageFiles);
    for (const file of pageFiles) {
      if (!statSync(join(webDir, file)).isFile()) continue;
      expect(readFileSync(join(apiWeb, file), 'utf8'), file).toBe(
        readFileSync(join(webDir, file), 'utf8'),
      );
    }
    const { classify, deliver, sweep } = leadstage.functions;
    for (const fn of [classify, deliver, sweep]) {
      expect(existsSync(join(assetOf(fn), 'web')), fn.node.id).toBe(false);
    }
  });

  it('bundles functions that load as ES modules on Node and export a handler', () => {
    const assemblyDir = synthesized.app.synth().directory;
    for (const [name, fn] of Object.entries(leadstage.functions)) {
      const code = functionProperties(template, fn).Code as { S3Key: string };
      const bundle = join(assemblyDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs');
      const script =
        `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)});` +
        "if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(3); }";
      // What Lambda would give the function; no AWS call is made while loading.
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 20_000,
        env: {
          PATH: process.env.PATH,
          NODE_OPTIONS: '--enable-source-maps',
          AWS_REGION: 'eu-central-1',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'example',
          TABLE_NAME: 'leadstage-test',
          INGEST_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/ingest',
          DELIVERY_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/delivery',
        },
      });
      expect(result.status, `${name}: ${result.stderr.slice(-2000)}`).toBe(0);
    }
  });
});

describe('Leadstage construct props (bundling skipped)', () => {
  const variables = (synthesized: Synthesized, fn: NodejsFunction): Json =>
    environmentOf(synthesized.template, fn);

  it('passes the config as JSON to every function', () => {
    const config = { forms: [{ id: 'contact', name: 'Contact' }] };
    const synthesized = synth({ config }, { bundle: false });
    for (const fn of Object.values(synthesized.stack.leadstage.functions)) {
      expect(variables(synthesized, fn).LEADSTAGE_CONFIG_JSON).toBe(JSON.stringify(config));
    }
  });

  it('applies the removal policy to the table, the API key secret and the log groups, never retaining queues', () => {
    const { template } = synth({ removalPolicy: RemovalPolicy.DESTROY }, { bundle: false });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    // The four functions' logs and the API's access logs.
    template.resourceCountIs('AWS::Logs::LogGroup', 5);
    template.allResources('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Delete',
      Properties: { RetentionInDays: 30 },
    });
    template.allResources('AWS::SQS::Queue', { DeletionPolicy: 'Delete' });
  });

  it('turns deletion protection on with RETAIN and off with DESTROY', () => {
    const retained = synth({ removalPolicy: RemovalPolicy.RETAIN }, { bundle: false }).template;
    retained.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    const destroyed = synth({ removalPolicy: RemovalPolicy.DESTROY }, { bundle: false }).template;
    const [table] = Object.values(destroyed.findResources('AWS::DynamoDB::Table')) as Resource[];
    expect(table?.Properties.DeletionProtectionEnabled).toBe(false);
  });

  it('uses a given API key secret instead of creating one', () => {
    const app = new App({ outdir: tempDir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Host');
    const apiKeysSecret = Secret.fromSecretCompleteArn(
      stack,
      'Keys',
      'arn:aws:secretsmanager:eu-central-1:123456789012:secret:leadstage/api-keys-XyZ123',
    );
    const leadstage = new Leadstage(stack, 'Leadstage', { apiKeysSecret });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(leadstage.apiKeysSecret).toBe(apiKeysSecret);
    expect(environmentOf(template, leadstage.functions.api).LEADSTAGE_API_KEYS_SECRET_ARN).toBe(
      apiKeysSecret.secretArn,
    );
    expect(
      resourcesAllowed(template, leadstage.functions.api, 'secretsmanager:GetSecretValue'),
    ).toEqual([apiKeysSecret.secretArn]);
  });

  it('passes the providers secret ARN to the api function only and lets it read exactly that secret', () => {
    const synthesized = synth({ providersSecretId: PROVIDERS_SECRET_ARN }, { bundle: false });
    const { template, stack } = synthesized;
    const { api, classify, deliver, sweep } = stack.leadstage.functions;
    expect(variables(synthesized, api).LEADSTAGE_PROVIDERS_SECRET_ARN).toBe(PROVIDERS_SECRET_ARN);
    for (const fn of [classify, deliver, sweep]) {
      expect(variables(synthesized, fn)).not.toHaveProperty('LEADSTAGE_PROVIDERS_SECRET_ARN');
    }
    expect(sorted(resourcesAllowed(template, api, 'secretsmanager:GetSecretValue'))).toEqual(
      sorted([PROVIDERS_SECRET_ARN, { Ref: logicalId(stack.leadstage.apiKeysSecret as Secret) }]),
    );
  });

  it('matches a providers secret imported by name by its name and the 6-character suffix only', () => {
    const synthesized = synth({ providersSecretId: 'leadstage/providers' }, { bundle: false });
    const { api } = synthesized.stack.leadstage.functions;
    const allowed = resourcesAllowed(synthesized.template, api, 'secretsmanager:GetSecretValue');
    const byName = allowed.map((r) => JSON.stringify(r)).filter((r) => r.includes('providers'));
    expect(byName).toHaveLength(1);
    expect(byName[0]).toMatch(/:secret:leadstage\/providers-\?\?\?\?\?\?"/);
  });

  it('refuses a config that contains providers, pointing to providersSecret, without echoing it', () => {
    const config = {
      providers: { postmark: { basicAuth: { username: 'pm', password: 'hunter2-long-password' } } },
    };
    expect(() => synth({ config }, { bundle: false })).toThrow(/providersSecret/);
    expect(() => synth({ config }, { bundle: false })).not.toThrow(/hunter2/);
    expect(() => synth({ config: { providers: {} } }, { bundle: false })).toThrow(/providers/);
  });

  it('sets the maximum concurrency of each worker from workerConcurrency', () => {
    const synthesized = synth(
      { workerConcurrency: { classify: 2, deliver: 25 } },
      { bundle: false },
    );
    const { classify, deliver } = synthesized.stack.leadstage.functions;
    for (const [fn, max] of [
      [classify, 2],
      [deliver, 25],
    ] as const) {
      synthesized.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalId(fn) },
        ScalingConfig: { MaximumConcurrency: max },
      });
    }
    const partial = synth({ workerConcurrency: { deliver: 3 } }, { bundle: false });
    partial.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(partial.stack.leadstage.functions.classify) },
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('refuses a worker concurrency outside 2..1000', () => {
    for (const bad of [1, 0, 1001, 2.5]) {
      expect(() => synth({ workerConcurrency: { classify: bad } }, { bundle: false })).toThrow(
        /workerConcurrency\.classify/,
      );
    }
    expect(() => synth({ workerConcurrency: { deliver: 1 } }, { bundle: false })).toThrow(
      /workerConcurrency\.deliver/,
    );
  });

  it('merges retrySchedule into the config as delivery.retryScheduleSeconds', () => {
    const config = { forms: [{ id: 'contact' }], delivery: { retryScheduleSeconds: [60] } };
    const synthesized = synth({ config, retrySchedule: [5, 300, 1800] }, { bundle: false });
    for (const fn of Object.values(synthesized.stack.leadstage.functions)) {
      const json = variables(synthesized, fn).LEADSTAGE_CONFIG_JSON as string;
      expect(JSON.parse(json)).toEqual({
        forms: [{ id: 'contact' }],
        delivery: { retryScheduleSeconds: [5, 300, 1800] },
      });
    }
    // Without a config, the schedule alone becomes the config.
    const alone = synth({ retrySchedule: [10, 20] }, { bundle: false });
    const json = variables(alone, alone.stack.leadstage.functions.deliver).LEADSTAGE_CONFIG_JSON;
    expect(JSON.parse(json as string)).toEqual({ delivery: { retryScheduleSeconds: [10, 20] } });
    // Refused where the functions would refuse it.
    expect(() => synth({ retrySchedule: [] }, { bundle: false })).toThrow(
      /delivery\.retryScheduleSeconds/,
    );
    expect(() => synth({ retrySchedule: [0.5] }, { bundle: false })).toThrow(
      /delivery\.retryScheduleSeconds\.0/,
    );
  });

  it('applies the throttle prop to the default stage', () => {
    const { template, stack } = synth(
      { throttle: { rateLimit: 20, burstLimit: 40 } },
      { bundle: false },
    );
    expect(propertiesOf(template, 'AWS::ApiGatewayV2::Stage', stack.leadstage.stage)).toMatchObject(
      {
        DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      },
    );
    expect(() => synth({ throttle: { rateLimit: 0, burstLimit: 10 } }, { bundle: false })).toThrow(
      /throttle\.rateLimit/,
    );
    expect(() =>
      synth({ throttle: { rateLimit: 10, burstLimit: 1.5 } }, { bundle: false }),
    ).toThrow(/throttle\.burstLimit/);
  });

  it('maps a custom domain to the default stage and bases the public URLs on it', () => {
    const synthesized = synth(
      { customDomainName: 'leads.example.com', certificateArn: CERTIFICATE_ARN },
      { bundle: false },
    );
    const { template, stack } = synthesized;
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'leads.example.com',
      DomainNameConfigurations: [
        Match.objectLike({ CertificateArn: CERTIFICATE_ARN, EndpointType: 'REGIONAL' }),
      ],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      ApiId: { Ref: logicalId(stack.leadstage.api) },
      DomainName: { Ref: logicalId(stack.leadstage.domainName as unknown as IConstruct) },
      Stage: '$default',
    });
    // The mapping waits for the stage it maps to.
    const [mapping] = Object.values(
      template.findResources('AWS::ApiGatewayV2::ApiMapping'),
    ) as (Resource & { DependsOn?: string[] })[];
    expect(mapping?.DependsOn).toContain(logicalId(stack.leadstage.stage));

    expect(stack.leadstage.publicUrl).toBe('https://leads.example.com/');
    template.hasOutput('CustomDomainUrl', { Value: 'https://leads.example.com/' });
    template.hasOutput('CustomDomainTarget', {
      Value: {
        'Fn::GetAtt': [
          logicalId(stack.leadstage.domainName as unknown as IConstruct),
          'RegionalDomainName',
        ],
      },
    });
    template.hasOutput('PostmarkWebhookUrl', {
      Value: 'https://leads.example.com/v1/webhooks/email/postmark',
    });
    template.hasOutput('FormSubmissionUrlPattern', {
      Value: 'https://leads.example.com/v1/forms/{formId}/submissions',
    });
    // The execute-api URL stays an output too.
    template.hasOutput('ApiUrl', { Value: synthesized.stack.resolve(stack.leadstage.url) });
  });

  it('takes a custom domain as a certificate object too, and no custom domain resources without one', () => {
    const app = new App({ outdir: tempDir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Host');
    const certificate = Certificate.fromCertificateArn(stack, 'Cert', CERTIFICATE_ARN);
    new Leadstage(stack, 'Leadstage', {
      customDomain: { domainName: 'api.example.org', certificate },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'api.example.org',
    });

    const plain = synth({}, { bundle: false }).template;
    plain.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    plain.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 0);
  });

  it('refuses half a custom domain, or both forms of one', () => {
    expect(() => synth({ customDomainName: 'leads.example.com' }, { bundle: false })).toThrow(
      /certificateArn/,
    );
    expect(() => synth({ certificateArn: CERTIFICATE_ARN }, { bundle: false })).toThrow(
      /customDomainName/,
    );
  });

  it('keeps alarmTopic and alarmEmail in its props, for the alarms', () => {
    const { stack } = synth({ alarmEmail: 'ops@example.com' }, { bundle: false });
    expect(stack.leadstage.props.alarmEmail).toBe('ops@example.com');
    expect(stack.leadstage.props.alarmTopic).toBeUndefined();
  });

  it('rejects a config that is not a JSON object, or too large for the Lambda environment', () => {
    expect(() => synth({ config: [1, 2] }, { bundle: false })).toThrow(/JSON object/);
    expect(() => synth({ config: 'forms' }, { bundle: false })).toThrow(/JSON object/);
    const huge = { forms: Array.from({ length: 200 }, (_, i) => ({ id: `form-${i}` })) };
    expect(() => synth({ config: huge }, { bundle: false })).toThrow(/4 KB/);
  });

  it('rejects a config the functions would refuse at cold start, naming the field', () => {
    expect(() => synth({ config: { forms: [{ id: 'Not Valid' }] } }, { bundle: false })).toThrow(
      /forms\.0\.id/,
    );
    expect(() =>
      synth({ config: { qualification: { minEmployees: -5 } } }, { bundle: false }),
    ).toThrow(/qualification\.minEmployees/);
  });

  it('can be used in any stack, more than once', () => {
    const app = new App({ outdir: tempDir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Host');
    const props: LeadstageProps = { removalPolicy: RemovalPolicy.DESTROY };
    new Leadstage(stack, 'Blue', props);
    new Leadstage(stack, 'Green', props);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 8);
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    // Two schedules each: the sweep and the ageing pass.
    template.resourceCountIs('AWS::Events::Rule', 4);
  });
});

describe('the CDK app (infra/app.ts, run as `cdk synth` runs it)', () => {
  const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

  /** Runs infra/app.ts as the CLI would, without credentials; returns the outdir. */
  function runApp(extraContext: Record<string, unknown>) {
    const outdir = tempDir();
    const context = { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...extraContext };
    const env: Record<string, string | undefined> = {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify(context),
    };
    delete env.CDK_DEFAULT_ACCOUNT;
    delete env.CDK_DEFAULT_REGION;
    const result = spawnSync(process.execPath, ['infra/app.ts'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
      env,
    });
    return { outdir, result };
  }

  it('synthesizes an environment-agnostic Leadstage stack, taking the config, providers secret, domain and alarm email from context', () => {
    const configDir = tempDir();
    const configFile = join(configDir, 'leadstage.config.json');
    const config = { forms: [{ id: 'newsletter' }] };
    writeFileSync(configFile, JSON.stringify(config));
    const { outdir, result } = runApp({
      configFile,
      providersSecret: PROVIDERS_SECRET_ARN,
      domainName: 'leads.example.com',
      certificateArn: CERTIFICATE_ARN,
      alarmEmail: 'ops@example.com',
    });
    expect(result.status, result.stderr).toBe(0);

    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; environment?: string }>;
    };
    expect(manifest.artifacts.Leadstage).toMatchObject({
      type: 'aws:cloudformation:stack',
      environment: 'aws://unknown-account/unknown-region',
    });
    const template = Template.fromJSON(
      JSON.parse(readFileSync(join(outdir, 'Leadstage.template.json'), 'utf8')),
    );
    template.hasOutput('ApiUrl', {});
    template.hasOutput('FetchApiKeyCommand', {});
    template.hasOutput('CustomDomainUrl', { Value: 'https://leads.example.com/' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 10,
      Environment: {
        Variables: Match.objectLike({
          LEADSTAGE_CONFIG_JSON: JSON.stringify(config),
          LEADSTAGE_PROVIDERS_SECRET_ARN: PROVIDERS_SECRET_ARN,
          LEADSTAGE_API_KEYS_SECRET_ARN: Match.anyValue(),
        }),
      },
    });
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Environment: { Variables: Match.objectLike({ LEADSTAGE_CONFIG_JSON: Match.anyValue() }) } },
      4,
    );
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: { DeletionProtectionEnabled: true },
    });
  });

  it('destroys the table with removalPolicy=destroy, and refuses an unknown value', () => {
    const { outdir, result } = runApp({ removalPolicy: 'destroy' });
    expect(result.status, result.stderr).toBe(0);
    const template = Template.fromJSON(
      JSON.parse(readFileSync(join(outdir, 'Leadstage.template.json'), 'utf8')),
    );
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    const bad = runApp({ removalPolicy: 'keep' });
    expect(bad.result.status).not.toBe(0);
    expect(bad.result.stderr).toMatch(/"retain" or "destroy"/);
  });

  it('refuses the removed apiKeyHashes context, pointing to the secret', () => {
    const { result } = runApp({ apiKeyHashes: 'a'.repeat(64) });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Secrets Manager/);
  });
});
