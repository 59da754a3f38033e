import { beforeAll, describe, expect, it } from 'vitest';
import { SECRET_NAMES } from '../../infra/constructs/bff-secrets.ts';
import { SUPABASE_URL, SynthesizedStack } from './synthesized-stack.ts';

/**
 * A production stack can be deleted and created again from what it retained: the table (with
 * its API keys) through `-c existingTableName`, the secrets (with their values) through
 * `-c existingSecrets=true`. A retained resource with a fixed name would make the new stack's
 * create fail ("already exists"); every such resource has a flag that reuses it instead.
 */

/** The property that fixes a resource's physical name, for the types the stack retains. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
};

/** `type name` of every resource that outlives the stack and has a name a re-create would reuse. */
function retainedWithFixedNames(stack: SynthesizedStack): string[] {
  const resources = (stack.template.toJSON() as { Resources: Record<string, Record<string, unknown>> })
    .Resources;
  return Object.values(resources)
    .filter((resource) => resource.DeletionPolicy === 'Retain')
    .flatMap((resource) => {
      const type = String(resource.Type);
      const name = (resource.Properties as Record<string, unknown> | undefined)?.[NAME_PROPERTY[type] ?? ''];
      return name === undefined ? [] : [`${type} ${String(name)}`];
    })
    .sort();
}

const TABLE = 'makeit3d-bff-production-TableCD117FA1-1A2B3C';
const PREFIX = 'makeit3d-bff/production/';

let fresh: SynthesizedStack;
let recreated: SynthesizedStack;

beforeAll(() => {
  fresh = new SynthesizedStack({ stage: 'production', supabaseUrl: SUPABASE_URL });
  recreated = new SynthesizedStack({
    stage: 'production',
    supabaseUrl: SUPABASE_URL,
    existingTableName: TABLE,
    existingSecrets: 'true',
  });
});

describe('a production stack', () => {
  it('retains its table, secrets and logs; only the secrets have fixed names', () => {
    expect(retainedWithFixedNames(fresh)).toEqual(
      SECRET_NAMES.map((name) => `AWS::SecretsManager::Secret ${PREFIX}${name}`).sort(),
    );
    fresh.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: { DeletionProtectionEnabled: true },
    });
  });

  it('re-created with existingTableName and existingSecrets, creates nothing a deleted one left behind', () => {
    expect(retainedWithFixedNames(recreated)).toEqual([]);
    recreated.template.resourceCountIs('AWS::DynamoDB::Table', 0);
    recreated.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });
});

describe('existingTableName', () => {
  it('points every function, and the TableName output, at the retained table (its API keys stay valid)', () => {
    for (const source of ['api/submit-generation', 'api/get-task-status', 'ops/reconcile-stuck-tasks']) {
      expect(recreated.environment(source).TABLE_NAME, source).toBe(TABLE);
    }
    expect(recreated.template.findOutputs('TableName').TableName?.Value).toBe(TABLE);
  });

  it('seeds the test key into the reused table of a non-production stage', () => {
    const dev = new SynthesizedStack({
      nonProductionStages: ['dev'],
      supabaseUrl: SUPABASE_URL,
      existingTableName: 'makeit3d-bff-dev-Table-1',
    });
    const [, seed] = dev.ofType('Custom::AWS')[0] ?? [];
    const create = JSON.parse(String(seed?.Properties.Create)) as { parameters: { TableName: string } };
    expect(create.parameters.TableName).toBe('makeit3d-bff-dev-Table-1');
  });

  it('must be a DynamoDB table name', () => {
    expect(
      () =>
        new SynthesizedStack({ supabaseUrl: SUPABASE_URL, existingTableName: 'arn:aws:dynamodb:table/x' }),
    ).toThrow(/Invalid context existingTableName/);
  });
});

describe('existingSecrets', () => {
  it('gives functions the retained secrets by name, and read access to them only', () => {
    const environment = recreated.environment('workflow/run-provider');
    const arn = (name: string) => JSON.stringify(environment[`${name}_SECRET_ARN`]);
    for (const name of ['OPENAI_API_KEY', 'TRIPO_API_KEY', 'SUPABASE_SERVICE_KEY']) {
      expect(arn(name), name).toContain(`:secret:${PREFIX}${name}"`);
    }
    const readable = recreated
      .functionStatements('workflow/run-provider')
      .filter((statement) => statement.actions.includes('secretsmanager:GetSecretValue'))
      .flatMap((statement) => statement.resources)
      .map((resource) => JSON.stringify(resource));
    expect(readable).toHaveLength(6);
    // The secret's ARN ends in a random 6-character suffix the grant must cover, and only it.
    for (const resource of readable)
      expect(resource).toMatch(/:secret:makeit3d-bff\/production\/[A-Z_]+-\?{6}"/);
  });
});
