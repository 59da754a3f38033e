import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BffFunction } from '../../infra/constructs/bff-function.ts';
import {
  ON_DEMAND_MODULES,
  onDemandModuleFile,
  onDemandModulesNamedIn,
} from '../../infra/constructs/on-demand-modules.ts';

/**
 * What the stack's own bundling (NodejsFunction's esbuild, then BffFunction's after-bundling
 * commands) puts in a function's asset, with real bundling, for two functions: one with an AWS
 * SDK client and one without. The other stack tests skip bundling to stay fast; `npm run synth`
 * bundles everything but checks no asset's contents.
 */

const outdir = mkdtempSync(join(tmpdir(), 'makeit3d-function-asset-'));
const assets = new Map<string, string>();

function assetDirOf(stack: Stack, id: string): string {
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  const entry = Object.entries(functions).find(([logicalId]) => logicalId.startsWith(id));
  const key = (entry?.[1] as { Properties: { Code: { S3Key: string } } } | undefined)?.Properties.Code.S3Key;
  if (!key) throw new Error(`no function ${id} in the template`);
  return join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
}

beforeAll(() => {
  const app = new App({ outdir });
  const stack = new Stack(app, 'FunctionAssetTest');
  for (const [id, name] of [
    ['Status', 'get-task-status'],
    ['Health', 'health'],
  ] as const) {
    new BffFunction(stack, id, {
      folder: 'api',
      invoker: 'api-gateway',
      name,
      description: `${name}, bundled as the stack bundles it`,
      timeout: Duration.seconds(10),
      memorySize: 256,
      environment: {},
      logRetention: RetentionDays.ONE_DAY,
      logRemovalPolicy: RemovalPolicy.DESTROY,
      logLevel: 'INFO',
    });
  }
  app.synth();
  assets.set('get-task-status', assetDirOf(stack, 'Status'));
  assets.set('health', assetDirOf(stack, 'Health'));
}, 120_000);

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function asset(name: string): string {
  const dir = assets.get(name);
  if (!dir) throw new Error(`${name} was not synthesized`);
  return dir;
}

describe("a function's asset, as the stack builds it", () => {
  it('holds the bundle, its map, and every on-demand credential source it names beside it', () => {
    const dir = asset('get-task-status');
    expect(readdirSync(dir).sort()).toEqual(['index.js', 'index.js.map', 'node_modules']);
    const bundle = readFileSync(join(dir, 'index.js'), 'utf8');
    expect(onDemandModulesNamedIn(bundle)).toEqual([...ON_DEMAND_MODULES]);
    for (const name of ON_DEMAND_MODULES) {
      expect(existsSync(onDemandModuleFile(dir, name)), name).toBe(true);
      expect(existsSync(`${onDemandModuleFile(dir, name)}.map`), name).toBe(true);
    }
  });

  it('carries no on-demand module where the bundle names none', () => {
    const dir = asset('health');
    expect(readdirSync(dir).sort()).toEqual(['index.js', 'index.js.map']);
  });
});
