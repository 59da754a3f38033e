import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { MakeIt3dBffStack } from '../../infra/stacks/makeit3d-bff-stack.ts';
import { stageSettingsFromContext } from '../../infra/stacks/stage-settings.ts';

// Synthesizes a stack per stage without esbuild bundling (`bundling-stacks: []`), so the
// assertions run in seconds; `npm run synth` exercises the real bundling.

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
}

export interface Statement {
  effect: string;
  actions: string[];
  resources: unknown[];
}

/** A Supabase project URL for stacks whose tests are not about it (synth requires one). */
export const SUPABASE_URL = 'https://abc.supabase.co';

/** cdk.json's context, which `cdk synth|deploy` reads (it marks the stages that are not production). */
export const CDK_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

export class SynthesizedStack {
  readonly app: App;
  readonly stack: MakeIt3dBffStack;
  readonly template: Template;
  private readonly resources: Record<string, CfnResource>;

  constructor(context: Record<string, unknown>) {
    this.app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
    const settings = stageSettingsFromContext(this.app.node);
    this.stack = new MakeIt3dBffStack(this.app, `Test-${settings.stage}`, { settings });
    this.template = Template.fromStack(this.stack);
    const resources = (this.template.toJSON() as { Resources: Record<string, Partial<CfnResource>> })
      .Resources;
    this.resources = Object.fromEntries(
      Object.entries(resources).map(([id, resource]) => [
        id,
        {
          Type: resource.Type ?? '',
          Properties: resource.Properties ?? {},
          ...(resource.DependsOn ? { DependsOn: resource.DependsOn } : {}),
        },
      ]),
    );
  }

  ofType(type: string): [string, CfnResource][] {
    return Object.entries(this.resources).filter(([, resource]) => resource.Type === type);
  }

  resource(logicalId: string): CfnResource {
    const found = this.resources[logicalId];
    if (!found) throw new Error(`No resource ${logicalId}`);
    return found;
  }

  /** The logical id of the Lambda built from a file under functions/. */
  functionId(source: string): string {
    const matches = this.ofType('AWS::Lambda::Function').filter(([, resource]) =>
      (resource.Properties.Tags as { Key: string; Value: string }[] | undefined)?.some(
        (tag) => tag.Key === 'makeit3d:source' && tag.Value === `functions/${source}.ts`,
      ),
    );
    expect(matches, `one function for functions/${source}.ts`).toHaveLength(1);
    return matches[0]?.[0] ?? '';
  }

  functionProperties(source: string): Record<string, unknown> {
    return this.resource(this.functionId(source)).Properties;
  }

  environment(source: string): Record<string, unknown> {
    const environment = this.functionProperties(source).Environment as {
      Variables?: Record<string, unknown>;
    };
    return environment.Variables ?? {};
  }

  /** Every IAM statement attached to a role, with actions and resources as arrays. */
  statementsOfRole(roleId: string): Statement[] {
    return this.ofType('AWS::IAM::Policy')
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(`"Ref":"${roleId}"`))
      .flatMap(
        ([, policy]) =>
          (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      )
      .map((statement) => ({
        effect: String(statement.Effect),
        actions: [statement.Action].flat() as string[],
        resources: [statement.Resource].flat(),
      }));
  }

  functionRoleId(source: string): string {
    const role = this.functionProperties(source).Role as { 'Fn::GetAtt': [string, string] };
    return role['Fn::GetAtt'][0];
  }

  functionStatements(source: string): Statement[] {
    return this.statementsOfRole(this.functionRoleId(source));
  }

  /** Names of the secrets a function's role may read. */
  readableSecrets(source: string): string[] {
    const secretNames = new Map(
      this.ofType('AWS::SecretsManager::Secret').map(([id, secret]) => [id, String(secret.Properties.Name)]),
    );
    return this.functionStatements(source)
      .filter((statement) => statement.actions.includes('secretsmanager:GetSecretValue'))
      .flatMap((statement) => statement.resources)
      .map(
        (resource) => secretNames.get((resource as { Ref?: string }).Ref ?? '') ?? JSON.stringify(resource),
      )
      .map((name) => name.split('/').at(-1) ?? name)
      .sort();
  }

  dynamoActions(source: string): string[] {
    return this.functionStatements(source)
      .flatMap((statement) => statement.actions)
      .filter((action) => action.startsWith('dynamodb:'));
  }

  /** Logical id of the only resource of a type. */
  only(type: string): string {
    const found = this.ofType(type);
    expect(found, type).toHaveLength(1);
    return found[0]?.[0] ?? '';
  }
}
