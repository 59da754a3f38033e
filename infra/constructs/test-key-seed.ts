import { type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { CfnFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  type AwsSdkCall,
  PhysicalResourceId,
} from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { testKeyItem } from '../../functions/core/auth/api-keys.ts';
import { toItem } from '../../functions/core/store/dynamo.ts';
import type { StageSettings } from '../stacks/stage-settings.ts';

export interface TestKeySeedProps {
  table: ITable;
  logRemovalPolicy: RemovalPolicy;
  /** The stage being deployed: it must be marked non-production. */
  settings: Pick<StageSettings, 'stage' | 'nonProduction'>;
}

/**
 * Puts the well-known test key's record into the table at deploy time, so a fresh
 * non-production stage can be called straight away. Only a stage explicitly marked
 * non-production gets it (docs/api.md, Authentication and tenants): the construct refuses any other, so a mistake in the
 * stack cannot publish the test key. The record and its marshalling come from the runtime code.
 */
export class TestKeySeed extends Construct {
  readonly resource: AwsCustomResource;

  constructor(scope: Construct, id: string, props: TestKeySeedProps) {
    super(scope, id);
    if (!props.settings.nonProduction) {
      throw new Error(
        `The test key is only seeded into a stage marked non-production; ${props.settings.stage} is not (context nonProduction / nonProductionStages)`,
      );
    }
    const putTestKey: AwsSdkCall = {
      service: 'DynamoDB',
      action: 'putItem',
      parameters: { TableName: props.table.tableName, Item: toItem(testKeyItem()) },
      physicalResourceId: PhysicalResourceId.of('makeit3d-test-api-key'),
    };
    this.resource = new AwsCustomResource(this, 'PutTestKey', {
      onCreate: putTestKey,
      // Re-put on update too, so a changed record shape reaches existing stages.
      onUpdate: putTestKey,
      policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: [props.table.tableArn] }),
      // The runtime's SDK has putItem; installing the latest one needs network at deploy time.
      installLatestAwsSdk: false,
      // One small SDK call at deploy time.
      memorySize: 256,
      logGroup: new LogGroup(this, 'LogGroup', {
        retention: RetentionDays.ONE_WEEK,
        removalPolicy: props.logRemovalPolicy,
      }),
    });
    pinProviderRuntime(this);
  }
}

/**
 * CDK runs every AwsCustomResource through one provider Lambda on its newest Node.js runtime;
 * it is pinned to the project's Node.js 22 so a stage needs no runtime the rest does not use.
 */
function pinProviderRuntime(scope: Construct): void {
  const providerId = `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`;
  const provider = Stack.of(scope).node.tryFindChild(providerId);
  const resource = provider?.node.defaultChild;
  if (!(resource instanceof CfnFunction) || !provider) {
    throw new Error(
      `The AwsCustomResource provider (${providerId}) was not found; CDK changed how it is built`,
    );
  }
  resource.runtime = Runtime.NODEJS_22_X.name;
  const reason = (what: string) =>
    `CDK's own AwsCustomResource provider, run by CloudFormation at deploy time of a non-production stage only to put the test key: ${what}`;
  Validations.of(provider).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: reason(
        'CDK builds its role with the AWS managed basic execution policy (CloudWatch Logs writes); the construct offers no way to replace it, and the role lives only for the test key put',
      ),
    },
    { id: 'AwsSolutions-L1', reason: reason('pinned to Node.js 22 like every function of the project') },
    {
      id: 'Serverless-LambdaLatestVersion',
      reason: reason('pinned to Node.js 22 like every function of the project'),
    },
    {
      id: 'Serverless-LambdaDLQ',
      reason: reason(
        'invoked synchronously by CloudFormation, which reports a failure as the deploy failing',
      ),
    },
    { id: 'Serverless-LambdaTracing', reason: reason('one SDK call per deploy, nothing worth tracing') },
  );
}
