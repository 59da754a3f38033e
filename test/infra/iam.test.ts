import path from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_FUNCTIONS } from '../../functions/api/routes.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { REPO_ROOT } from '../../infra/constructs/bundling.ts';
import { type Statement, SUPABASE_URL, SynthesizedStack } from './synthesized-stack.ts';

/**
 * Least privilege, proved on the template: each function's role may send exactly the DynamoDB
 * actions its code sends (written out below from reading the code, independently of
 * infra/stacks/function-specs.ts), on the table only (Query: on the `unfinished` index only);
 * Step Functions actions only where a function starts or inspects executions; nothing else with
 * a wildcard but X-Ray.
 */

const ALL_SOURCES = [
  ...API_FUNCTIONS.map((name) => `api/${name}`),
  ...Object.values(WORKFLOW_FUNCTIONS).map((name) => `workflow/${name}`),
  'workflow/reconcile-execution',
  'ops/reconcile-stuck-tasks',
];

interface Expected {
  /** Actions granted on the table itself. */
  table: string[];
  /** Actions granted on the `unfinished` index. */
  index?: string[];
  states?: string[];
}

const EXPECTED: Record<string, Expected> = {
  // authenticate (Get), enforceRateLimit (Update), idempotencyStore.claim (Put, Get),
  // .takeOver (Update), .release (conditional Delete), taskRepository.create (Put), .get (a repeat),
  // .markFailed (Update) when the execution cannot start.
  'api/submit-generation': {
    table: ['DeleteItem', 'GetItem', 'PutItem', 'UpdateItem'],
    states: ['states:StartExecution'],
  },
  // authenticate and readTaskStatus (Get), enforceRateLimit (Update).
  'api/get-task-status': { table: ['GetItem', 'UpdateItem'] },
  // registerApiKey (Put), registration attempts (Put to open a window, Update to count and give back).
  'api/register-api-key': { table: ['PutItem', 'UpdateItem'] },
  'api/health': { table: [] },
  'api/not-found': { table: [] },
  // findTaskLink and noteCallback's read of the task (Get), claimDelivery (Put), noteCallback /
  // releaseDelivery (Update); resumes the execution's token wait.
  'api/provider-webhook': {
    table: ['GetItem', 'PutItem', 'UpdateItem'],
    states: ['states:SendTaskSuccess'],
  },
  // recordCallbackToken (Update); resumes its own wait when the webhook came first.
  'workflow/await-provider-callback': { table: ['UpdateItem'], states: ['states:SendTaskSuccess'] },
  // Builds the document from the request schemas and serves files: no table, no state machine.
  'api/api-docs': { table: [] },
  // markProcessing (Update), then get (Get) for the rows.
  'workflow/mark-task-processing': { table: ['GetItem', 'UpdateItem'] },
  // Inputs, provider and Storage only: the task travels in the execution input.
  'workflow/run-provider': { table: [] },
  'workflow/process-image': { table: [] },
  // get (Get) to resume, markProviderCreateStarted / setProviderJob / clearProviderCreateStarted
  // (Update), the job's webhook lookup item putTaskLink (Put).
  'workflow/submit-provider-job': { table: ['GetItem', 'PutItem', 'UpdateItem'] },
  // updateProgress (Update).
  'workflow/poll-provider-job': { table: ['UpdateItem'] },
  'workflow/complete-task': { table: ['UpdateItem'] },
  'workflow/fail-task': { table: ['UpdateItem'] },
  // get (Get), then markRowsRecorded (Update) once the rows hold the final status.
  'workflow/record-result-rows': { table: ['GetItem', 'UpdateItem'] },
  // markFailed (Update), then recordResultRows (Get, Update).
  'workflow/reconcile-execution': { table: ['GetItem', 'UpdateItem'] },
  // findStuck (Query on the index), recordResultRows' get (Get), markFailed / markRowsRecorded
  // (Update); asks how a stuck task's execution stands (it never starts one).
  'ops/reconcile-stuck-tasks': {
    table: ['GetItem', 'UpdateItem'],
    index: ['Query'],
    states: ['states:DescribeExecution'],
  },
};

const dynamoStatements = (statements: Statement[]) =>
  statements.filter((statement) => statement.actions.some((action) => action.startsWith('dynamodb:')));

/** The actions granted on each resource, as `resource JSON -> sorted actions`. */
function actionsByResource(statements: Statement[]): Map<string, string[]> {
  const byResource = new Map<string, Set<string>>();
  for (const statement of statements) {
    for (const resource of statement.resources) {
      const key = JSON.stringify(resource);
      const actions = byResource.get(key) ?? new Set<string>();
      for (const action of statement.actions) actions.add(action);
      byResource.set(key, actions);
    }
  }
  return new Map([...byResource].map(([key, actions]) => [key, [...actions].sort()]));
}

function expectExactTableGrants(stack: SynthesizedStack, tableArn: unknown, indexArn: unknown): void {
  for (const source of ALL_SOURCES) {
    const expected = EXPECTED[source];
    if (!expected) throw new Error(`No expectation for ${source}`);
    const statements = dynamoStatements(stack.functionStatements(source));
    for (const statement of statements) expect(statement.effect, source).toBe('Allow');
    const wanted = new Map<string, string[]>();
    if (expected.table.length > 0) {
      wanted.set(
        JSON.stringify(tableArn),
        expected.table.map((action) => `dynamodb:${action}`),
      );
    }
    if (expected.index) {
      wanted.set(
        JSON.stringify(indexArn),
        expected.index.map((action) => `dynamodb:${action}`),
      );
    }
    expect(actionsByResource(statements), source).toEqual(wanted);
  }
}

let dev: SynthesizedStack;
let reused: SynthesizedStack;

beforeAll(() => {
  dev = new SynthesizedStack({ nonProductionStages: ['dev'], supabaseUrl: SUPABASE_URL });
  reused = new SynthesizedStack({
    stage: 'production',
    supabaseUrl: SUPABASE_URL,
    existingTableName: 'makeit3d-bff-production-TableCD117FA1-ABC',
  });
});

describe('DynamoDB', () => {
  it("allows each function exactly the actions its code sends, on the table's ARN and no other", () => {
    const tableId = dev.only('AWS::DynamoDB::Table');
    const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
    expectExactTableGrants(dev, tableArn, { 'Fn::Join': ['', [tableArn, '/index/unfinished']] });
  });

  it('grants the same actions on a table reused from a deleted stack (existingTableName)', () => {
    const arn = (suffix: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':dynamodb:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:table/makeit3d-bff-production-TableCD117FA1-ABC${suffix}`,
        ],
      ],
    });
    expectExactTableGrants(reused, arn(''), arn('/index/unfinished'));
  });

  it('grants no Scan, batch, transaction or wildcard action to any function', () => {
    for (const source of ALL_SOURCES) {
      for (const action of dev.dynamoActions(source)) {
        expect(action, source).toMatch(/^dynamodb:(GetItem|PutItem|UpdateItem|DeleteItem|Query)$/);
      }
    }
  });

  it('grants only actions whose SDK command is in the function bundle (no grant the code cannot use)', async () => {
    const commandsIn = await bundledDynamoCommands(ALL_SOURCES);
    for (const source of ALL_SOURCES) {
      const granted = dev.dynamoActions(source).map((action) => action.replace('dynamodb:', ''));
      const present = commandsIn.get(source) ?? [];
      for (const action of granted) expect(present, `${source} is granted ${action}`).toContain(action);
    }
    // The check can fail: every DynamoDB-using bundle does contain commands.
    expect(commandsIn.get('workflow/complete-task')).toContain('UpdateItem');
    expect(commandsIn.get('api/submit-generation')).toContain('DeleteItem');
  });
});

describe('Step Functions', () => {
  it('lets only the submit function start executions (on this state machine), and the reconciler describe them', () => {
    const machineId = dev.only('AWS::StepFunctions::StateMachine');
    for (const source of ALL_SOURCES) {
      const statements = dev
        .functionStatements(source)
        .filter((statement) => statement.actions.some((action) => action.startsWith('states:')));
      const actions = [...new Set(statements.flatMap((statement) => statement.actions))].sort();
      expect(actions, source).toEqual(EXPECTED[source]?.states ?? []);
      for (const statement of statements) {
        if (statement.actions.includes('states:StartExecution')) {
          expect(statement.resources, source).toEqual([{ Ref: machineId }]);
        }
      }
    }
  });

  it("lets the reconciler describe this state machine's executions only", () => {
    const describe = dev
      .functionStatements('ops/reconcile-stuck-tasks')
      .filter((statement) => statement.actions.includes('states:DescribeExecution'));
    expect(describe).toHaveLength(1);
    expect(describe[0]?.actions).toEqual(['states:DescribeExecution']);
    expect(describe[0]?.resources).toEqual([
      {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':states:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':execution:makeit3d-bff-dev-generation:*',
          ],
        ],
      },
    ]);
  });
});

describe('every function role', () => {
  it('has no AWS managed policy, and writes logs to its own log group only', () => {
    for (const source of ALL_SOURCES) {
      const role = dev.resource(dev.functionRoleId(source));
      expect(role.Properties.ManagedPolicyArns, source).toBeUndefined();
      const logGroup = (
        dev.functionProperties(source).LoggingConfig as { LogGroup: { Ref: string } } | undefined
      )?.LogGroup;
      const logs = dev
        .functionStatements(source)
        .filter((statement) => statement.actions.some((action) => action.startsWith('logs:')));
      expect(logs, source).toEqual([
        {
          effect: 'Allow',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [{ 'Fn::GetAtt': [logGroup?.Ref, 'Arn'] }],
        },
      ]);
    }
  });

  it('uses Resource "*" for X-Ray only', () => {
    for (const source of ALL_SOURCES) {
      const wildcards = dev
        .functionStatements(source)
        .filter((statement) => statement.resources.includes('*'));
      expect(wildcards, source).toEqual([
        { effect: 'Allow', actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] },
      ]);
    }
  });
});

/**
 * The DynamoDB commands whose code survives in each function's bundle: esbuild bundles the
 * handler as the stack does (tree-shaken; packages left external so their names stay readable),
 * and the output is searched for `new <Name>Command(` of the names imported from the DynamoDB client.
 */
async function bundledDynamoCommands(sources: readonly string[]): Promise<Map<string, string[]>> {
  const result = await build({
    entryPoints: Object.fromEntries(
      sources.map((source) => [source, path.join(REPO_ROOT, 'functions', `${source}.ts`)]),
    ),
    bundle: true,
    write: false,
    outdir: path.join(REPO_ROOT, 'cdk.out', 'iam-test'),
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    logLevel: 'silent',
  });
  const commands = new Map<string, string[]>();
  for (const output of result.outputFiles) {
    const source = path
      .relative(path.join(REPO_ROOT, 'cdk.out', 'iam-test'), output.path)
      .replace(/\.js$/, '')
      .split(path.sep)
      .join('/');
    // Local name -> exported name of every binding imported from the DynamoDB client.
    const imported = new Map(
      [...output.text.matchAll(/import\s*\{([^}]*)\}\s*from\s*["']@aws-sdk\/client-dynamodb["']/g)]
        .flatMap((match) => (match[1] ?? '').split(','))
        .map((binding) => binding.trim())
        .filter((binding) => binding !== '')
        .map((binding): [string, string] => {
          const [exported = '', local] = binding.split(/\s+as\s+/);
          return [local ?? exported, exported];
        }),
    );
    const used = [...output.text.matchAll(/new\s+([\w$]+)\(/g)]
      .map((match) => imported.get(match[1] ?? '') ?? '')
      .filter((name) => name.endsWith('Command'))
      .map((name) => name.replace(/Command$/, ''));
    commands.set(source, [...new Set(used)].sort());
  }
  return commands;
}
