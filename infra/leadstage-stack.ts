import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Leadstage, type LeadstageProps } from './leadstage.ts';

/** Properties of {@link LeadstageStack}: the stack's own plus those of the pipeline. */
export interface LeadstageStackProps extends StackProps, LeadstageProps {}

/** A deployable stack holding one {@link Leadstage} pipeline, with its URL as an output. */
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
      apiKeyHashes: props.apiKeyHashes,
      removalPolicy: props.removalPolicy,
      logRetention: props.logRetention,
    });

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the Leadstage HTTP API',
      value: this.leadstage.api.url ?? this.leadstage.api.apiEndpoint,
    });
    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB table of contacts, timelines, subscriptions and deliveries',
      value: this.leadstage.table.tableName,
    });
  }
}
