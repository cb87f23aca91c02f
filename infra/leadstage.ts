import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  ApiMapping,
  type CfnStage,
  DomainName,
  HttpApi,
  HttpMethod,
  type HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AGEING_TASK } from '../lib/classify/age-contacts.ts';
import { parseAppConfig } from '../lib/config/app-config.ts';
import { providersConfigSchema } from '../lib/ingest/email/providers-config.ts';
import { GLOBAL_INDEXES } from '../lib/store/table.ts';
import { addObservability, type LeadstageObservability } from './observability.ts';

/** A custom domain for the HTTP API. */
export interface LeadstageCustomDomain {
  /** The host name, e.g. `leads.example.com`. */
  readonly domainName: string;
  /**
   * An ACM certificate for `domainName`, in the stack's region (the API is regional).
   */
  readonly certificate: ICertificate;
}

/** Reserved concurrency of the queue consumers, per event source mapping. */
export interface LeadstageWorkerConcurrency {
  /**
   * At most this many classify instances poll the ingest queue at once (2 to 1000).
   *
   * @default 10
   */
  readonly classify?: number;
  /**
   * At most this many deliver instances poll the delivery queue at once (2 to 1000); bounds
   * the parallel calls to subscribers.
   *
   * @default 10
   */
  readonly deliver?: number;
}

/** Request throttling of the HTTP API. */
export interface LeadstageThrottle {
  /** Steady-state requests per second, over all routes. */
  readonly rateLimit: number;
  /** Requests allowed in a burst (a few seconds), over all routes. */
  readonly burstLimit: number;
}

/** Properties of the {@link Leadstage} construct. Every property is optional. */
export interface LeadstageProps {
  /**
   * The deployment's configuration document (forms, qualification criteria, CRM vocabulary,
   * delivery): a JSON object, passed to every function as the `LEADSTAGE_CONFIG_JSON`
   * environment variable and validated at synth time and again by the functions at cold start.
   *
   * It must not contain `providers`: their credentials would be readable in the Lambda
   * environment. Put that section in a Secrets Manager secret and pass it as
   * `providersSecret`.
   *
   * Lambda allows 4 KB of environment in total, so a large config is rejected at synth time.
   *
   * @default - not set; the functions use their built-in default config
   */
  readonly config?: unknown;

  /**
   * The secret holding the API keys accepted by the admin and activity endpoints: its
   * SecretString is one key, or JSON `{"keys": ["...", ...]}` (several keys, for a rotation).
   * Only the api function may read it (`secretsmanager:GetSecretValue`, nothing else); it gets
   * the ARN as `LEADSTAGE_API_KEYS_SECRET_ARN` and hashes the keys at cold start.
   *
   * @default - a new secret holding a generated 48-character key (letters and digits), with
   * the construct's `removalPolicy`
   */
  readonly apiKeysSecret?: ISecret;

  /**
   * The secret holding the email-provider credentials: its SecretString is the JSON of the
   * config's `providers` section (docs/providers.md). Only the api function may read it; it gets
   * the ARN as `LEADSTAGE_PROVIDERS_SECRET_ARN`.
   *
   * @default - no provider is configured; every `/v1/webhooks/email/{provider}` answers 404
   */
  readonly providersSecret?: ISecret;

  /**
   * Serve the API under a custom domain as well (an API Gateway domain name mapped to the
   * API's default stage). Point a DNS record (CNAME or alias) at the domain's
   * `regionalDomainName`.
   *
   * @default - only the `execute-api` URL
   */
  readonly customDomain?: LeadstageCustomDomain;

  /**
   * The SNS topic the pipeline's alarms notify (see `addObservability` in
   * infra/observability.ts, which reads it from {@link Leadstage.props}).
   *
   * @default - the alarms create a topic of their own
   */
  readonly alarmTopic?: ITopic;

  /**
   * An email address subscribed to the alarm topic; AWS sends it a confirmation mail first
   * (see `addObservability`, which reads it from {@link Leadstage.props}).
   *
   * @default - no subscription
   */
  readonly alarmEmail?: string;

  /**
   * What happens to the table, the generated API key secret and the log groups when they leave
   * the stack. The queues (transient data) are always destroyed. With `RETAIN` the table also
   * has deletion protection on.
   *
   * @default RemovalPolicy.RETAIN - contacts and their history outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long the functions' logs and the API's access logs are kept.
   *
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;

  /**
   * How many instances of each queue consumer may run at once (`maxConcurrency` of its SQS
   * event source).
   *
   * @default - 10 for classify, 10 for deliver
   */
  readonly workerConcurrency?: LeadstageWorkerConcurrency;

  /**
   * Seconds to wait after each failed webhook attempt (docs/webhooks.md), e.g.
   * `[5, 300, 1800]`. Written into the config as `delivery.retryScheduleSeconds`, replacing
   * any schedule the `config` has.
   *
   * @default - the config's schedule, else Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
   */
  readonly retrySchedule?: number[];

  /**
   * Throttling of the HTTP API's default stage, over all routes together. Requests beyond it
   * are answered 429 by API Gateway before any function runs.
   *
   * @default - 100 requests per second, bursts of 200
   */
  readonly throttle?: LeadstageThrottle;

  /**
   * A tighter throttle for the public form route (`POST /v1/forms/{formId}/submissions`), which
   * anyone can call; within the stage-wide one.
   *
   * @default - 20 requests per second, bursts of 40
   */
  readonly formThrottle?: LeadstageThrottle;
}

/** The four Lambda functions of the pipeline. */
export interface LeadstageFunctions {
  /** The Hono app behind the HTTP API: ingest, admin and subscriptions endpoints. */
  readonly api: NodejsFunction;
  /** Consumes the ingest queue: merges events into contacts and derives their stage. */
  readonly classify: NodejsFunction;
  /** Consumes the delivery queue: POSTs signed stage changes to subscribers. */
  readonly deliver: NodejsFunction;
  /** Every minute: queues the deliveries whose (re)try time has come. */
  readonly sweep: NodejsFunction;
}

/** Timeouts of the functions; each consuming queue's visibility timeout is derived from them. */
const API_TIMEOUT = Duration.seconds(10);
const CLASSIFY_TIMEOUT = Duration.seconds(30);
/** Covers one subscriber call (15 s HTTP timeout) with room for the store writes around it. */
const DELIVER_TIMEOUT = Duration.seconds(30);

const SQS_BATCH_SIZE = 10;
const SQS_BATCHING_WINDOW = Duration.seconds(1);
/** A message that fails this often is parked in the queue's DLQ. */
const MAX_RECEIVE_COUNT = 5;
/** SQS's maximum; the classify dedupe window is sized to cover it. */
const RETENTION = Duration.days(14);

/** Lambda's limit for all environment variables of one function, keys and values together. */
const LAMBDA_ENV_LIMIT_BYTES = 4096;
/** Kept free for the other variables (table name, queue URLs, NODE_OPTIONS, ...). */
const ENV_RESERVED_BYTES = 1024;

/** Consumers per event source mapping when `workerConcurrency` does not say. */
const DEFAULT_WORKER_CONCURRENCY = 10;
/** API Gateway stage throttling when `throttle` does not say. */
const DEFAULT_THROTTLE: LeadstageThrottle = { rateLimit: 100, burstLimit: 200 };
/** The public form route's throttle when `formThrottle` does not say. */
const DEFAULT_FORM_THROTTLE: LeadstageThrottle = { rateLimit: 20, burstLimit: 40 };
const FORM_ROUTE_PATH = '/v1/forms/{formId}/submissions';
/** The generated API key: long enough for a bearer token, no punctuation to quote in shells. */
const GENERATED_API_KEY_LENGTH = 48;

/**
 * One line of JSON per request in the API's access log. No query string, header or body
 * (they can carry e-mail addresses and keys); the path can carry a contact id.
 */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    ip: '$context.identity.sourceIp',
    method: '$context.httpMethod',
    path: '$context.path',
    protocol: '$context.protocol',
    status: '$context.status',
    responseLength: '$context.responseLength',
    latencyMs: '$context.responseLatency',
    integrationLatencyMs: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    error: '$context.error.message',
  }),
);

/**
 * Makes `require` available inside the ESM bundle, so CommonJS dependencies that call
 * `require('node:...')` keep working (esbuild's ESM output cannot do that on its own).
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __leadstageCreateRequire } from 'node:module';" +
  'const require = __leadstageCreateRequire(import.meta.url);';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const entry = (name: string): string =>
  fileURLToPath(new URL(`../functions/${name}.ts`, import.meta.url));

/**
 * Visibility timeout for a queue consumed by a function: AWS recommends at least six times
 * the function timeout plus the batching window, so a batch retried by Lambda's poller is
 * not handed out again while an earlier attempt may still be running.
 */
export function visibilityTimeoutFor(functionTimeout: Duration): Duration {
  return Duration.seconds(6 * functionTimeout.toSeconds() + SQS_BATCHING_WINDOW.toSeconds());
}

/**
 * The whole Leadstage pipeline on AWS, ready to drop into any stack:
 *
 * ```
 * HTTP API -> api (Hono) -> ingest queue -> classify -> DynamoDB table
 *                                               \-> delivery queue -> deliver -> subscribers
 * ```
 *
 * - one DynamoDB table (`pk`/`sk`, on-demand, point-in-time recovery, TTL on `expiresAt`,
 *   deletion protection when retained);
 * - SQS standard queues for ingest and delivery, each with a DLQ after
 *   5 receives, SSE-SQS encryption and TLS enforced;
 * - four Node.js 22 arm64 functions bundled locally with esbuild (ESM, minified, source
 *   maps): api, classify and deliver (the workers fed by event source mappings that report
 *   partial batch failures, with a bounded concurrency), and the sweeper, run every minute by
 *   an EventBridge rule;
 * - an API Gateway HTTP API whose default route is the api function, throttled, with JSON
 *   access logs, optionally under a custom domain;
 * - the API keys (and optionally the email-provider credentials) in Secrets Manager, readable
 *   by the api function only; no secret is ever in an environment variable.
 *
 * Permissions are least privilege: each function has its own role that may write its own log
 * group only; the api sends to the ingest and delivery queues (events; erasure notices;
 * redriven dead letters), receives, hides and deletes in the two DLQs (the dead-letter API) and
 * reads its secrets, classify sends to the delivery queue and its own DLQ, deliver to the
 * delivery queue (its delayed retries) and its DLQ, the sweeper to the delivery queue; each
 * worker consumes only its own queue.
 *
 * @example
 * new Leadstage(stack, 'Leadstage', {
 *   config: { forms: [{ id: 'contact' }] },
 *   providersSecret: Secret.fromSecretNameV2(stack, 'Providers', 'leadstage/providers'),
 *   alarmEmail: 'ops@example.com',
 * });
 */
export class Leadstage extends Construct {
  /** The properties it was created with (`alarmTopic` and `alarmEmail` are for the alarms). */
  readonly props: LeadstageProps;
  /** Contacts, timelines, stage history, subscriptions and deliveries (single-table). */
  readonly table: Table;
  /** Normalized events from the api function, consumed by classify. */
  readonly ingestQueue: Queue;
  /** Events classify failed on 5 times. */
  readonly ingestDlq: Queue;
  /** Pending deliveries from classify (and the sweeper), consumed by deliver. */
  readonly deliveryQueue: Queue;
  /** Deliveries that failed 5 times in a row without being rescheduled. */
  readonly deliveryDlq: Queue;
  /** The public HTTP API; its default route invokes the api function. */
  readonly api: HttpApi;
  /** The API's `$default` stage (throttling, access logs). */
  readonly stage: HttpStage;
  /** The `execute-api` URL of the API, ending in `/`. */
  readonly url: string;
  /** The custom domain, when `customDomain` was given. */
  readonly domainName?: DomainName;
  /** Where clients should call: the custom domain's URL when there is one, else `url`. */
  readonly publicUrl: string;
  /** JSON access logs of the HTTP API. */
  readonly accessLogs: LogGroup;
  /** The API keys (given, or created with a generated key). */
  readonly apiKeysSecret: ISecret;
  /** The email-provider credentials, when `providersSecret` was given. */
  readonly providersSecret?: ISecret;
  /** Alarms, the funnel metrics and the dashboard (infra/observability.ts). */
  readonly observability: LeadstageObservability;
  /** The pipeline's Lambda functions. */
  readonly functions: LeadstageFunctions;

  constructor(scope: Construct, id: string, props: LeadstageProps = {}) {
    super(scope, id);
    this.props = props;

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const configJson = serializeConfig(props.config, props.retrySchedule);
    checkEnvironmentBudget(configJson);
    const classifyConcurrency = workerConcurrency(props.workerConcurrency?.classify, 'classify');
    const deliverConcurrency = workerConcurrency(props.workerConcurrency?.deliver, 'deliver');
    const throttle = validateThrottle(props.throttle ?? DEFAULT_THROTTLE);

    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy,
      // A retained table must not be deletable by a stray console click or API call either.
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    });
    // The same indexes the local runtime creates (lib/store/table.ts is the one definition).
    for (const index of GLOBAL_INDEXES) {
      const [hash, range] = index.KeySchema ?? [];
      if (index.IndexName === undefined || hash?.AttributeName === undefined) continue;
      this.table.addGlobalSecondaryIndex({
        indexName: index.IndexName,
        partitionKey: { name: hash.AttributeName, type: AttributeType.STRING },
        ...(range?.AttributeName
          ? { sortKey: { name: range.AttributeName, type: AttributeType.STRING } }
          : {}),
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: index.Projection?.NonKeyAttributes ?? [],
      });
    }

    const queue = (name: string, consumerTimeout: Duration) => {
      const dlq = new Queue(this, `${name}Dlq`, {
        retentionPeriod: RETENTION,
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      const main = new Queue(this, `${name}Queue`, {
        visibilityTimeout: visibilityTimeoutFor(consumerTimeout),
        retentionPeriod: RETENTION,
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
      });
      return { main, dlq };
    };
    const ingest = queue('Ingest', CLASSIFY_TIMEOUT);
    const delivery = queue('Delivery', DELIVER_TIMEOUT);
    this.ingestQueue = ingest.main;
    this.ingestDlq = ingest.dlq;
    this.deliveryQueue = delivery.main;
    this.deliveryDlq = delivery.dlq;

    this.apiKeysSecret =
      props.apiKeysSecret ??
      new Secret(this, 'ApiKeySecret', {
        description:
          'Leadstage API key (SecretString: one key, or {"keys": [...]} during a rotation)',
        generateSecretString: {
          passwordLength: GENERATED_API_KEY_LENGTH,
          excludePunctuation: true,
          includeSpace: false,
        },
        removalPolicy,
      });
    this.providersSecret = props.providersSecret;

    const environment: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      INGEST_QUEUE_URL: this.ingestQueue.queueUrl,
      DELIVERY_QUEUE_URL: this.deliveryQueue.queueUrl,
      INGEST_DLQ_URL: this.ingestDlq.queueUrl,
      DELIVERY_DLQ_URL: this.deliveryDlq.queueUrl,
      // Source maps ship in the asset but stay off at runtime: enabling them costs every cold
      // start. Set NODE_OPTIONS=--enable-source-maps on a function while debugging.
      ...(configJson === undefined ? {} : { LEADSTAGE_CONFIG_JSON: configJson }),
    };

    const fn = (
      name: string,
      options: {
        timeout: Duration;
        memorySize: number;
        description: string;
        env?: Record<string, string>;
        /** Shell commands run after esbuild, with the project root and the asset folder. */
        afterBundling?: (inputDir: string, outputDir: string) => string[];
      },
    ) => {
      const logGroup = new LogGroup(this, `${name}Logs`, {
        retention: logRetention,
        removalPolicy,
      });
      // An own role instead of AWSLambdaBasicExecutionRole: it may write this log group only.
      const role = new Role(this, `${name}Role`, {
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
        description: `Leadstage ${name.toLowerCase()} function`,
      });
      logGroup.grantWrite(role);
      return new NodejsFunction(this, `${name}Function`, {
        entry: entry(name.toLowerCase()),
        handler: 'handler',
        projectRoot: repoRoot,
        depsLockFilePath: `${repoRoot}package-lock.json`,
        runtime: Runtime.NODEJS_22_X,
        architecture: Architecture.ARM_64,
        memorySize: options.memorySize,
        timeout: options.timeout,
        description: options.description,
        environment: { ...environment, ...options.env },
        role,
        logGroup,
        bundling: {
          minify: true,
          sourceMap: true,
          // Stack traces only need file/line mapping; leaving the sources out halves the asset.
          sourcesContent: false,
          format: OutputFormat.ESM,
          mainFields: ['module', 'main'],
          banner: ESM_REQUIRE_BANNER,
          target: 'node22',
          // Bundle the pinned AWS SDK the code was tested with, not whatever the runtime has.
          bundleAwsSDK: true,
          forceDockerBundling: false,
          ...(options.afterBundling === undefined
            ? {}
            : {
                commandHooks: {
                  beforeBundling: () => [],
                  beforeInstall: () => [],
                  afterBundling: options.afterBundling,
                },
              }),
        },
      });
    };

    // Secrets travel as ARNs; the api function reads the values at cold start.
    const api = fn('Api', {
      timeout: API_TIMEOUT,
      memorySize: 512,
      description: 'Leadstage HTTP API (Hono): ingest, admin, subscriptions',
      env: {
        LEADSTAGE_API_KEYS_SECRET_ARN: this.apiKeysSecret.secretArn,
        // A message SQS parked without a reason failed this often (the dead-letter API says so).
        MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
        ...(this.providersSecret === undefined
          ? {}
          : { LEADSTAGE_PROVIDERS_SECRET_ARN: this.providersSecret.secretArn }),
      },
      // The funnel page's static files, read from `web/` next to the bundle (lib/ingest/routes/ui.ts).
      afterBundling: (inputDir, outputDir) => [
        `mkdir -p "${outputDir}/web" && cp -R "${inputDir}/web/." "${outputDir}/web/"`,
      ],
    });
    const classify = fn('Classify', {
      timeout: CLASSIFY_TIMEOUT,
      memorySize: 256,
      description: 'Leadstage classify worker: merge events, derive stages (ingest queue)',
    });
    const deliver = fn('Deliver', {
      timeout: DELIVER_TIMEOUT,
      memorySize: 256,
      description: 'Leadstage deliver worker: signed webhooks to subscribers (delivery queue)',
    });
    const sweep = fn('Sweep', {
      timeout: Duration.seconds(60),
      memorySize: 256,
      description:
        'Leadstage sweeper: queues due and stranded deliveries (every minute), and contacts gone stale (daily)',
    });
    // One sweep at a time, and no Lambda retry of a failed one: the next minute's sweep is the retry.
    sweep.configureAsyncInvoke({ retryAttempts: 0 });
    const sweepConcurrency = sweep.node.defaultChild as CfnFunction;
    sweepConcurrency.reservedConcurrentExecutions = 1;
    this.functions = { api, classify, deliver, sweep };
    new Rule(this, 'SweepSchedule', {
      description: 'Runs the Leadstage sweeper every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(sweep, { retryAttempts: 0 })],
    });
    // The ageing pass (lib/classify/age-contacts.ts): `stale` follows time, not only events.
    // Daily, as staleAfterDays counts days; a failed pass is repeated by the next day's.
    new Rule(this, 'AgeingSchedule', {
      description:
        'Runs the Leadstage ageing pass daily: refreshes contacts whose flags time has moved (stale, cadence)',
      // Both share the sweep's one reserved instance: a minute's sweep that meets the pass is
      // throttled and retried by Lambda's async queue; the pass reads only due contacts.
      schedule: Schedule.cron({ minute: '17', hour: '3' }),
      targets: [
        new LambdaFunction(sweep, {
          retryAttempts: 0,
          event: RuleTargetInput.fromObject(AGEING_TASK),
        }),
      ],
    });

    // Least privilege. Consuming a queue is granted by its event source below.
    // The api queues events, and for an erasure also the contact.erased deliveries (delivery
    // queue) and a delayed re-purge (ingest queue).
    this.ingestQueue.grantSendMessages(api);
    this.deliveryQueue.grantSendMessages(api);
    // The dead-letter API looks into both DLQs (receive, then give the visibility back) and
    // redrives them: send to the source queue (granted above), then delete from the DLQ.
    for (const dlq of [this.ingestDlq, this.deliveryDlq]) {
      dlq.grant(
        api,
        'sqs:ReceiveMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
      );
    }
    this.table.grantReadWriteData(api);
    // Reading the values is all it may do with its secrets: no DescribeSecret, no listing.
    for (const secret of [this.apiKeysSecret, this.providersSecret]) {
      if (secret === undefined) continue;
      api.addToRolePolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [secretArnForPolicies(secret)],
        }),
      );
      secret.encryptionKey?.grantDecrypt(api);
    }

    this.table.grantReadWriteData(classify);
    this.deliveryQueue.grantSendMessages(classify);
    // Unreadable messages are parked in the DLQ at once, with the reason.
    this.ingestDlq.grantSendMessages(classify);

    this.table.grantReadWriteData(deliver);
    this.deliveryDlq.grantSendMessages(deliver);
    // Failed attempts schedule their own retries (delayed messages).
    this.deliveryQueue.grantSendMessages(deliver);

    this.table.grantReadWriteData(sweep);
    this.deliveryQueue.grantSendMessages(sweep);
    // The ageing pass queues its refreshes for the classify worker.
    this.ingestQueue.grantSendMessages(sweep);

    const eventSource = (source: Queue, maxConcurrency: number) =>
      new SqsEventSource(source, {
        batchSize: SQS_BATCH_SIZE,
        maxBatchingWindow: SQS_BATCHING_WINDOW,
        reportBatchItemFailures: true,
        maxConcurrency,
      });
    classify.addEventSource(eventSource(this.ingestQueue, classifyConcurrency));
    deliver.addEventSource(eventSource(this.deliveryQueue, deliverConcurrency));

    const integration = new HttpLambdaIntegration('ApiIntegration', api);
    this.api = new HttpApi(this, 'HttpApi', {
      description: 'Leadstage: forms, email-provider webhooks, activities, admin',
      // No CORS here: the app answers preflights itself, per form's allowed origins.
      defaultIntegration: integration,
      // Created below, with throttling and access logs (the default one takes neither).
      createDefaultStage: false,
    });
    // The public form route gets a route of its own, only to carry a tighter throttle: anyone
    // on the internet can post to it, and a flood must not starve the providers and the admin API.
    this.api.addRoutes({ path: FORM_ROUTE_PATH, methods: [HttpMethod.POST], integration });
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy });
    // Same construct path as the stage HttpApi would create, so its logical id is unchanged.
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: ACCESS_LOG_FORMAT,
      },
    });
    this.url = this.stage.url;
    // The L2 stage has no per-route settings; the L1 stage does.
    const formThrottle = props.formThrottle ?? DEFAULT_FORM_THROTTLE;
    validateThrottle(formThrottle);
    (this.stage.node.defaultChild as CfnStage).addPropertyOverride('RouteSettings', {
      [`POST ${FORM_ROUTE_PATH}`]: {
        ThrottlingRateLimit: formThrottle.rateLimit,
        ThrottlingBurstLimit: formThrottle.burstLimit,
      },
    });

    if (props.customDomain !== undefined) {
      this.domainName = new DomainName(this, 'DomainName', {
        domainName: props.customDomain.domainName,
        certificate: props.customDomain.certificate,
      });
      new ApiMapping(this, 'ApiMapping', {
        api: this.api,
        domainName: this.domainName,
        stage: this.stage,
      });
      this.publicUrl = `https://${props.customDomain.domainName}/`;
    } else {
      this.publicUrl = this.url;
    }

    this.observability = addObservability(this, this, {
      ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
    });

    this.acknowledgeNagFindings();
  }

  /**
   * The cdk-nag (AwsSolutions) findings this design accepts, each with its reason; the
   * rest are fixed. `test/infra/nag.test.ts` fails on any finding not listed here.
   */
  private acknowledgeNagFindings(): void {
    const ack = (scope: Construct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });

    const indexes = nagResource(`${this.table.tableArn}/index/*`, this);
    for (const fn of Object.values(this.functions)) {
      ack(
        fn,
        'AwsSolutions-L1',
        'nodejs22.x is the pinned runtime of the project (DESIGN.md, package.json engines); it moves with the Node version the code is tested on.',
      );
      const policy = fn.role?.node.tryFindChild('DefaultPolicy');
      if (policy === undefined) continue;
      ack(
        policy,
        `AwsSolutions-IAM5[Resource::${indexes}]`,
        "The functions query the table's own secondary indexes; `index/*` matches only this table's indexes.",
      );
      if (fn !== this.functions.api) continue;
      for (const secret of [this.apiKeysSecret, this.providersSecret]) {
        if (secret === undefined || secret.secretFullArn !== undefined) continue;
        ack(
          policy,
          `AwsSolutions-IAM5[Resource::${nagResource(secretArnForPolicies(secret), this)}]`,
          'A secret imported by name has no known ARN suffix; `-??????` matches the six characters Secrets Manager appends to that one name.',
        );
      }
    }

    ack(
      this.api,
      'AwsSolutions-APIG4',
      'The API is public by design (forms, provider webhooks); the app authenticates every admin and activity route with an API key and every provider webhook with its signature or basic auth.',
    );

    if (this.props.apiKeysSecret === undefined) {
      ack(
        this.apiKeysSecret,
        'AwsSolutions-SMG4',
        'The API key is a bearer token held by the operator\'s clients; it is rotated by hand (both keys in {"keys": [...]} during the switch), which an automatic rotation Lambda cannot coordinate.',
      );
    }
  }
}

/**
 * A policy resource as cdk-nag names it in a finding id (`Resource::<...>`): references
 * flattened to `<LogicalId>`, `<LogicalId.Attribute>` and `<AWS::Partition>`.
 */
function nagResource(value: string, scope: Construct): string {
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const fn = node as Record<string, unknown>;
      if (Array.isArray(fn['Fn::Join'])) {
        const [delimiter, items] = fn['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (Array.isArray(fn['Fn::GetAtt'])) {
        const [resource, attribute] = fn['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(resource)}.${visit(attribute)}>`;
      }
      if (fn.Ref !== undefined) return `<${visit(fn.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}

/** The ARN that matches the secret in a policy: a name-only ARN lacks the random suffix. */
function secretArnForPolicies(secret: ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

function serializeConfig(
  config: unknown,
  retrySchedule: readonly number[] | undefined,
): string | undefined {
  if (config === undefined && retrySchedule === undefined) return undefined;
  if (
    config !== undefined &&
    (typeof config !== 'object' || config === null || Array.isArray(config))
  ) {
    throw new Error('Leadstage: `config` must be a JSON object');
  }
  const document = { ...(config as Record<string, unknown> | undefined) };
  if ('providers' in document) {
    // Do not echo the section: it holds credentials.
    throw new Error(
      'Leadstage: `config` must not contain `providers`: their credentials would be readable ' +
        'in the Lambda environment. Store the `providers` section as JSON in a Secrets Manager ' +
        'secret and pass it as `providersSecret` (docs/deploy.md).',
    );
  }
  if (retrySchedule !== undefined) {
    const delivery = document.delivery;
    document.delivery = {
      ...(typeof delivery === 'object' && delivery !== null ? delivery : {}),
      retryScheduleSeconds: [...retrySchedule],
    };
  }
  // The functions parse the same document at cold start; a bad one fails here, before deploy.
  parseAppConfig(
    document,
    retrySchedule === undefined
      ? 'the Leadstage `config` prop'
      : 'the Leadstage `config` prop (with `retrySchedule` as delivery.retryScheduleSeconds)',
  );
  return JSON.stringify(document);
}

function checkEnvironmentBudget(configJson: string | undefined): void {
  const bytes = Buffer.byteLength(configJson ?? '', 'utf8');
  const budget = LAMBDA_ENV_LIMIT_BYTES - ENV_RESERVED_BYTES;
  if (bytes > budget) {
    throw new Error(
      `Leadstage: \`config\` takes ${bytes} bytes of Lambda environment; ` +
        `at most ${budget} fit in Lambda's 4 KB limit`,
    );
  }
}

function workerConcurrency(value: number | undefined, worker: string): number {
  const concurrency = value ?? DEFAULT_WORKER_CONCURRENCY;
  // Lambda's bounds for the maximum concurrency of an SQS event source.
  if (!Number.isInteger(concurrency) || concurrency < 2 || concurrency > 1000) {
    throw new Error(
      `Leadstage: \`workerConcurrency.${worker}\` must be a whole number from 2 to 1000, got ${concurrency}`,
    );
  }
  return concurrency;
}

function validateThrottle(throttle: LeadstageThrottle): LeadstageThrottle {
  const { rateLimit, burstLimit } = throttle;
  if (!Number.isFinite(rateLimit) || rateLimit <= 0) {
    throw new Error(
      `Leadstage: \`throttle.rateLimit\` must be a positive number, got ${rateLimit}`,
    );
  }
  if (!Number.isInteger(burstLimit) || burstLimit <= 0) {
    throw new Error(
      `Leadstage: \`throttle.burstLimit\` must be a positive whole number, got ${burstLimit}`,
    );
  }
  return { rateLimit, burstLimit };
}

/** The providers Leadstage accepts webhooks from, in the order of the config schema. */
export const EMAIL_PROVIDERS: readonly string[] = Object.keys(providersConfigSchema.shape);
