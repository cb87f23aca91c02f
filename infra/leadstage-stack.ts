import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  EMAIL_PROVIDERS,
  Leadstage,
  type LeadstageCustomDomain,
  type LeadstageProps,
} from './leadstage.ts';

/**
 * Properties of {@link LeadstageStack}: the stack's own, those of the pipeline, and
 * string forms of the pipeline's imported resources (what the CDK app reads from context,
 * where no stack exists yet to import them into).
 */
export interface LeadstageStackProps extends StackProps, LeadstageProps {
  /**
   * Name or complete ARN of an existing secret holding the `providers` section as JSON,
   * imported into this stack as `providersSecret`. Not together with `providersSecret`.
   *
   * @default - no providers secret
   */
  readonly providersSecretId?: string;

  /**
   * A custom domain for the API, with `certificateArn`. Not together with `customDomain`.
   *
   * @default - no custom domain
   */
  readonly customDomainName?: string;

  /**
   * ARN of the ACM certificate for `customDomainName`, in the stack's region.
   *
   * @default - required when `customDomainName` is set
   */
  readonly certificateArn?: string;
}

/**
 * A deployable stack holding one {@link Leadstage} pipeline, with the URLs to configure
 * elsewhere (forms, email providers) and the way to fetch the API key as outputs.
 */
export class LeadstageStack extends Stack {
  /** The pipeline, for stacks or tests that need its resources. */
  readonly leadstage: Leadstage;

  constructor(scope: Construct, id: string, props: LeadstageStackProps = {}) {
    super(scope, id, {
      description: 'Leadstage: lead-stage webhook pipeline (HTTP API, SQS, Lambda, DynamoDB)',
      ...props,
    });

    this.leadstage = new Leadstage(this, 'Leadstage', {
      config: props.config,
      apiKeysSecret: props.apiKeysSecret,
      providersSecret: this.providersSecretFrom(props),
      customDomain: this.customDomainFrom(props),
      alarmTopic: props.alarmTopic,
      alarmEmail: props.alarmEmail,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
      workerConcurrency: props.workerConcurrency,
      retrySchedule: props.retrySchedule,
      throttle: props.throttle,
      formThrottle: props.formThrottle,
    });
    const { leadstage } = this;
    // The custom domain when there is one: the URL that survives re-creating the API.
    const base = leadstage.publicUrl;

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the Leadstage HTTP API (execute-api endpoint)',
      value: leadstage.url,
    });
    if (leadstage.domainName !== undefined) {
      new CfnOutput(this, 'CustomDomainUrl', {
        description: 'Base URL of the Leadstage HTTP API under the custom domain',
        value: base,
      });
      new CfnOutput(this, 'CustomDomainTarget', {
        description: 'Point a CNAME (or alias) record for the custom domain at this host name',
        value: leadstage.domainName.regionalDomainName,
      });
    }
    new CfnOutput(this, 'FormSubmissionUrlPattern', {
      description: 'Where website forms post: replace {formId} with the id of a configured form',
      value: `${base}v1/forms/{formId}/submissions`,
    });
    for (const provider of EMAIL_PROVIDERS) {
      new CfnOutput(this, `${capitalize(provider)}WebhookUrl`, {
        description: `Webhook URL to configure in ${provider} (docs/providers.md)`,
        value: `${base}v1/webhooks/email/${provider}`,
      });
    }
    new CfnOutput(this, 'ApiKeySecretArn', {
      description: 'Secrets Manager secret holding the API key(s)',
      value: leadstage.apiKeysSecret.secretArn,
    });
    new CfnOutput(this, 'FetchApiKeyCommand', {
      description: 'Prints the API key (a JSON {"keys": [...]} document during a rotation)',
      value:
        `aws secretsmanager get-secret-value --secret-id ${leadstage.apiKeysSecret.secretArn} ` +
        `--query SecretString --output text --region ${Aws.REGION}`,
    });
    new CfnOutput(this, 'ApiFunctionName', {
      description: 'The api function, which reads the secrets when an instance starts',
      value: leadstage.functions.api.functionName,
    });
    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB table of contacts, timelines, subscriptions and deliveries',
      value: leadstage.table.tableName,
    });
  }

  private providersSecretFrom(props: LeadstageStackProps): ISecret | undefined {
    const id = props.providersSecretId;
    if (id === undefined) return props.providersSecret;
    if (props.providersSecret !== undefined) {
      throw new Error('LeadstageStack: set `providersSecret` or `providersSecretId`, not both');
    }
    // A complete ARN ends in the random suffix Secrets Manager appends; a name has none.
    return id.startsWith('arn:')
      ? Secret.fromSecretCompleteArn(this, 'ProvidersSecret', id)
      : Secret.fromSecretNameV2(this, 'ProvidersSecret', id);
  }

  private customDomainFrom(props: LeadstageStackProps): LeadstageCustomDomain | undefined {
    const { customDomainName: domainName, certificateArn } = props;
    if (domainName === undefined && certificateArn === undefined) return props.customDomain;
    if (domainName === undefined || certificateArn === undefined) {
      throw new Error(
        'LeadstageStack: set both `customDomainName` and `certificateArn`, or neither',
      );
    }
    if (props.customDomain !== undefined) {
      throw new Error('LeadstageStack: set `customDomain` or `customDomainName`, not both');
    }
    return {
      domainName,
      certificate: Certificate.fromCertificateArn(this, 'Certificate', certificateArn),
    };
  }
}

const capitalize = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);
