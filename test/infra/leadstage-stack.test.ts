import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, type CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Leadstage, type LeadstageProps } from '../../infra/leadstage.ts';
import { LeadstageStack, type LeadstageStackProps } from '../../infra/leadstage-stack.ts';
import { GLOBAL_INDEXES } from '../../lib/store/table.ts';

/** The feature flags of cdk.json, so the template under test is the one `cdk synth` makes. */
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

const HASH_A = 'a'.repeat(64);
const HASH_B = '0123456789abcdef'.repeat(4);

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

  beforeAll(() => {
    synthesized = synth({}, { bundle: true });
    template = synthesized.template;
    leadstage = synthesized.stack.leadstage;
  });

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

  it('has exactly four functions, all nodejs22.x on arm64 with source maps enabled', () => {
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
        Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
      });
    }
  });

  it('gives every function the table and both queue URLs, and no config or keys by default', () => {
    const { api, classify, deliver, sweep } = leadstage.functions;
    for (const fn of [api, classify, deliver, sweep]) {
      const variables = environmentOf(template, fn);
      expect(variables).toMatchObject({
        TABLE_NAME: { Ref: logicalId(leadstage.table) },
        INGEST_QUEUE_URL: { Ref: logicalId(leadstage.ingestQueue) },
        DELIVERY_QUEUE_URL: { Ref: logicalId(leadstage.deliveryQueue) },
      });
      expect(variables).not.toHaveProperty('LEADSTAGE_CONFIG_JSON');
      expect(variables).not.toHaveProperty('LEADSTAGE_API_KEY_HASHES');
    }
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

  it('lets the api function send to the two queues (events; erasure notices and re-purge), and consume none', () => {
    const { api } = leadstage.functions;
    const ingest = getAtt(logicalId(leadstage.ingestQueue));
    const delivery = getAtt(logicalId(leadstage.deliveryQueue));
    expect(sorted(resourcesAllowed(template, api, 'sqs:SendMessage'))).toEqual(
      sorted([delivery, ingest]),
    );
    const dlqs = [getAtt(logicalId(leadstage.ingestDlq)), getAtt(logicalId(leadstage.deliveryDlq))];
    const sqsResources = statementsOf(template, api)
      .filter((s) => asArray(s.Action as string | string[]).some((a) => a.startsWith('sqs:')))
      .flatMap((s) => asArray(s.Resource));
    for (const dlq of dlqs) expect(sqsResources).not.toContainEqual(dlq);
    expect(resourcesAllowed(template, api, 'sqs:ReceiveMessage')).toEqual([]);
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

  it('lets sweep send to the delivery queue only, consume no queue, and touch nothing but the table', () => {
    const { sweep } = leadstage.functions;
    const delivery = getAtt(logicalId(leadstage.deliveryQueue));
    const tableArn = getAtt(logicalId(leadstage.table));
    const tableIndexes = { 'Fn::Join': ['', [tableArn, '/index/*']] };
    expect(resourcesAllowed(template, sweep, 'sqs:SendMessage')).toEqual([delivery]);
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
        expect(resources).toEqual([delivery]);
      } else if (actions.every((a) => a.startsWith('dynamodb:'))) {
        expect(resources.length).toBeGreaterThan(0);
        for (const resource of resources) expect([tableArn, tableIndexes]).toContainEqual(resource);
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

  it('runs the sweep function every minute from an EventBridge rule, without retries', () => {
    const { sweep } = leadstage.functions;
    const rules = template.findResources('AWS::Events::Rule') as Record<string, Resource>;
    const ruleIds = Object.keys(rules);
    expect(ruleIds).toHaveLength(1);
    const [ruleId] = ruleIds as [string];
    expect(rules[ruleId]?.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
    });
    const targets = rules[ruleId]?.Properties.Targets as Json[];
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({
      Arn: getAtt(logicalId(sweep)),
      RetryPolicy: { MaximumRetryAttempts: 0 },
    });
    // EventBridge may invoke the sweep function, from this rule only, and no other function.
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'events.amazonaws.com' },
      }),
    ) as Resource[];
    expect(permissions).toHaveLength(1);
    expect(permissions[0]?.Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(logicalId(sweep)),
      SourceArn: getAtt(ruleId),
    });
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

  it('passes the config as JSON to every function and the API key hashes to the api only', () => {
    const config = { forms: [{ id: 'contact', name: 'Contact' }] };
    const synthesized = synth({ config, apiKeyHashes: [HASH_A, HASH_B] }, { bundle: false });
    const { api, classify, deliver, sweep } = synthesized.stack.leadstage.functions;
    for (const fn of [api, classify, deliver, sweep]) {
      expect(variables(synthesized, fn).LEADSTAGE_CONFIG_JSON).toBe(JSON.stringify(config));
    }
    expect(variables(synthesized, api).LEADSTAGE_API_KEY_HASHES).toBe(`${HASH_A},${HASH_B}`);
    expect(variables(synthesized, classify)).not.toHaveProperty('LEADSTAGE_API_KEY_HASHES');
    expect(variables(synthesized, deliver)).not.toHaveProperty('LEADSTAGE_API_KEY_HASHES');
    expect(variables(synthesized, sweep)).not.toHaveProperty('LEADSTAGE_API_KEY_HASHES');
  });

  it('applies the removal policy to the table and log groups, never retaining queues', () => {
    const { template } = synth({ removalPolicy: RemovalPolicy.DESTROY }, { bundle: false });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    template.resourceCountIs('AWS::Logs::LogGroup', 4);
    template.allResources('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Delete',
      Properties: { RetentionInDays: 30 },
    });
    template.allResources('AWS::SQS::Queue', { DeletionPolicy: 'Delete' });
  });

  it('rejects API key hashes that are not SHA-256 hex digests, without echoing them', () => {
    expect(() => synth({ apiKeyHashes: ['my-secret-api-key'] }, { bundle: false })).toThrow(
      /SHA-256 digest/,
    );
    expect(() => synth({ apiKeyHashes: ['my-secret-api-key'] }, { bundle: false })).not.toThrow(
      /my-secret-api-key/,
    );
    expect(() => synth({ apiKeyHashes: [HASH_A.toUpperCase()] }, { bundle: false })).toThrow();
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
    template.resourceCountIs('AWS::Events::Rule', 2);
  });
});

describe('the CDK app (infra/app.ts, run as `cdk synth` runs it)', () => {
  it('synthesizes an environment-agnostic Leadstage stack, taking API key hashes and config from context', () => {
    const outdir = tempDir();
    const configFile = join(outdir, 'leadstage.config.json');
    const config = { forms: [{ id: 'newsletter' }] };
    writeFileSync(configFile, JSON.stringify(config));
    const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
    const context = {
      ...cdkJson.context,
      'aws:cdk:bundling-stacks': [],
      apiKeyHashes: `${HASH_A},${HASH_B}`,
      configFile,
    };
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
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 10,
      Environment: {
        Variables: Match.objectLike({
          LEADSTAGE_API_KEY_HASHES: `${HASH_A},${HASH_B}`,
          LEADSTAGE_CONFIG_JSON: JSON.stringify(config),
        }),
      },
    });
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Environment: { Variables: Match.objectLike({ LEADSTAGE_CONFIG_JSON: Match.anyValue() }) } },
      4,
    );
  });
});
