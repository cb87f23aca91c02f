import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Architecture, type CfnFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseAppConfig } from '../lib/config/app-config.ts';
import { GLOBAL_INDEXES } from '../lib/store/table.ts';

/** Properties of the {@link Leadstage} construct. Every property is optional. */
export interface LeadstageProps {
  /**
   * The deployment's configuration document (forms, qualification criteria, providers): a
   * JSON object, passed to every function as the `LEADSTAGE_CONFIG_JSON` environment variable
   * and validated by the functions at cold start.
   *
   * Lambda allows 4 KB of environment in total, so a large config is rejected at synth time.
   *
   * @default - not set; the functions use their built-in default config
   */
  readonly config?: unknown;

  /**
   * SHA-256 digests (64 lower-case hex characters) of the API keys accepted by the admin and
   * activity endpoints, passed to the api function only, as `LEADSTAGE_API_KEY_HASHES`
   * (comma-separated). Never the keys themselves.
   *
   * Interim: a later issue moves the keys to SSM Parameter Store / Secrets Manager.
   *
   * @default - no API key is accepted
   */
  readonly apiKeyHashes?: string[];

  /**
   * What happens to the table and the log groups when they leave the stack. The queues
   * (transient data) are always destroyed.
   *
   * @default RemovalPolicy.RETAIN - contacts and their history outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long the functions' logs are kept.
   *
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
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

const SHA256_HEX = /^[0-9a-f]{64}$/;

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
 * - one DynamoDB table (`pk`/`sk`, on-demand, point-in-time recovery, TTL on `expiresAt`);
 * - SQS standard queues for ingest and delivery, each with a DLQ after
 *   5 receives, SSE-SQS encryption and TLS enforced;
 * - four Node.js 22 arm64 functions bundled locally with esbuild (ESM, minified, source
 *   maps): api, classify and deliver (the workers fed by event source mappings that report
 *   partial batch failures), and the sweeper, run every minute by an EventBridge rule;
 * - an API Gateway HTTP API whose default route is the api function.
 *
 * Permissions are least privilege: the api sends to the ingest and delivery queues (events;
 * erasure notices), classify to the delivery queue and its own DLQ, deliver to the delivery
 * queue (its delayed retries) and its DLQ, the sweeper to the delivery queue; each worker
 * consumes only its own queue.
 *
 * @example
 * new Leadstage(stack, 'Leadstage', {
 *   config: { forms: [{ id: 'contact' }] },
 *   apiKeyHashes: ['<sha256 hex of the key>'],
 * });
 */
export class Leadstage extends Construct {
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
  /** The pipeline's Lambda functions. */
  readonly functions: LeadstageFunctions;

  constructor(scope: Construct, id: string, props: LeadstageProps = {}) {
    super(scope, id);

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const configJson = serializeConfig(props.config);
    const apiKeyHashes = validateApiKeyHashes(props.apiKeyHashes);
    checkEnvironmentBudget(configJson, apiKeyHashes);

    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy,
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

    const environment: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      INGEST_QUEUE_URL: this.ingestQueue.queueUrl,
      DELIVERY_QUEUE_URL: this.deliveryQueue.queueUrl,
      INGEST_DLQ_URL: this.ingestDlq.queueUrl,
      DELIVERY_DLQ_URL: this.deliveryDlq.queueUrl,
      NODE_OPTIONS: '--enable-source-maps',
      ...(configJson === undefined ? {} : { LEADSTAGE_CONFIG_JSON: configJson }),
    };

    const fn = (
      name: string,
      options: {
        timeout: Duration;
        memorySize: number;
        description: string;
        env?: Record<string, string>;
      },
    ) =>
      new NodejsFunction(this, `${name}Function`, {
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
        logGroup: new LogGroup(this, `${name}Logs`, { retention: logRetention, removalPolicy }),
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
        },
      });

    const api = fn('Api', {
      timeout: API_TIMEOUT,
      memorySize: 512,
      description: 'Leadstage HTTP API (Hono): ingest, admin, subscriptions',
      env: apiKeyHashes.length === 0 ? {} : { LEADSTAGE_API_KEY_HASHES: apiKeyHashes.join(',') },
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
      description: 'Leadstage sweeper: queues due and stranded deliveries (every minute)',
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

    // Least privilege. Consuming a queue is granted by its event source below.
    // The api queues events, and for an erasure also the contact.erased deliveries (delivery
    // queue) and a delayed re-purge (ingest queue).
    this.ingestQueue.grantSendMessages(api);
    this.deliveryQueue.grantSendMessages(api);
    this.table.grantReadWriteData(api);

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

    const eventSource = (source: Queue) =>
      new SqsEventSource(source, {
        batchSize: SQS_BATCH_SIZE,
        maxBatchingWindow: SQS_BATCHING_WINDOW,
        reportBatchItemFailures: true,
      });
    classify.addEventSource(eventSource(this.ingestQueue));
    deliver.addEventSource(eventSource(this.deliveryQueue));

    this.api = new HttpApi(this, 'HttpApi', {
      description: 'Leadstage: forms, email-provider webhooks, activities, admin',
      // No CORS here: the app answers preflights itself, per form's allowed origins.
      defaultIntegration: new HttpLambdaIntegration('ApiIntegration', api),
    });
  }
}

function serializeConfig(config: unknown): string | undefined {
  if (config === undefined) return undefined;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new Error('Leadstage: `config` must be a JSON object');
  }
  // The functions parse the same document at cold start; a bad one fails here, before deploy.
  parseAppConfig(config, 'the Leadstage `config` prop');
  return JSON.stringify(config);
}

function validateApiKeyHashes(hashes: string[] | undefined): string[] {
  const list = (hashes ?? []).map((hash) => hash.trim()).filter((hash) => hash !== '');
  for (const hash of list) {
    if (!SHA256_HEX.test(hash)) {
      // Do not echo the value: it may be a plain API key pasted by mistake.
      throw new Error(
        'Leadstage: each of `apiKeyHashes` must be a SHA-256 digest, 64 lower-case hex ' +
          'characters (e.g. `printf %s "$KEY" | sha256sum`), not the key itself',
      );
    }
  }
  return list;
}

function checkEnvironmentBudget(configJson: string | undefined, apiKeyHashes: string[]): void {
  const bytes =
    Buffer.byteLength(configJson ?? '', 'utf8') + Buffer.byteLength(apiKeyHashes.join(','), 'utf8');
  const budget = LAMBDA_ENV_LIMIT_BYTES - ENV_RESERVED_BYTES;
  if (bytes > budget) {
    throw new Error(
      `Leadstage: \`config\` and \`apiKeyHashes\` take ${bytes} bytes of Lambda environment; ` +
        `at most ${budget} fit in Lambda's 4 KB limit`,
    );
  }
}
