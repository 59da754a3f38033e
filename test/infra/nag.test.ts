import { Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CDK_CONTEXT, SUPABASE_URL, SynthesizedStack } from './synthesized-stack.ts';

/**
 * cdk-nag's AWS Solutions and Serverless packs on the synthesized stack: no finding is left
 * unacknowledged, and each acknowledgement sits on the resource (or the construct that owns it)
 * with its reason. cdk-nag 3 walks the construct tree (`validateScope`) and reads the
 * acknowledgements CDK records with `Validations.of(construct).acknowledge()`.
 */

const packs = (): NagPack[] => [new AwsSolutionsChecks(), new ServerlessChecks()];

/** Every finding no acknowledgement covers, as `rule at path` lines (readable when a test fails). */
function unacknowledged(scope: IConstruct): string[] {
  return packs().flatMap((pack) =>
    pack
      .validateScope(scope)
      .violations.flatMap((violation) =>
        violation.violatingResources.map(
          (resource) => `${violation.severity} ${violation.ruleName} at ${resource.constructPath}`,
        ),
      ),
  );
}

interface Acknowledgement {
  path: string;
  id: string;
  reason: string;
}

function acknowledgements(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

let stacks: Record<string, SynthesizedStack>;

beforeAll(() => {
  stacks = {
    // cdk.json's context as `cdk deploy` reads it: dev is non-production (test key seed included).
    dev: new SynthesizedStack({ ...CDK_CONTEXT, supabaseUrl: SUPABASE_URL }),
    production: new SynthesizedStack({ ...CDK_CONTEXT, stage: 'production', supabaseUrl: SUPABASE_URL }),
    // Every optional part: custom domain, alarm email, retained table and secrets reused.
    everything: new SynthesizedStack({
      ...CDK_CONTEXT,
      stage: 'prod',
      supabaseUrl: SUPABASE_URL,
      alarmEmail: 'oncall@example.com',
      domainName: 'api.example.com',
      certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012',
      existingTableName: 'makeit3d-bff-prod-Table-1',
      existingSecrets: 'true',
    }),
  };
});

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  for (const stage of ['dev', 'production', 'everything']) {
    it(`leaves no finding unacknowledged in the ${stage} stack`, () => {
      const stack = stacks[stage];
      if (!stack) throw new Error(`No stack ${stage}`);
      expect(unacknowledged(stack.stack)).toEqual([]);
    });
  }

  it('acknowledges on resources with a specific reason, never stack-wide', () => {
    for (const stack of Object.values(stacks)) {
      const found = acknowledgements(stack.app);
      expect(found.length).toBeGreaterThan(0);
      for (const acknowledgement of found) {
        expect(acknowledgement.path, acknowledgement.id).not.toBe(stack.stack.node.path);
        expect(acknowledgement.path, acknowledgement.id).not.toBe('');
        expect(acknowledgement.id, acknowledgement.path).toMatch(/^(AwsSolutions|Serverless)-/);
        expect(
          acknowledgement.reason.length,
          `${acknowledgement.id} at ${acknowledgement.path}`,
        ).toBeGreaterThan(60);
      }
    }
  });

  it('reports a finding nothing acknowledges (the check is live)', () => {
    const stack = stacks.dev?.stack as Stack;
    const probe = new Stack(stack.node.scope as IConstruct, 'NagProbe');
    new Queue(probe, 'PlainQueue');
    const findings = unacknowledged(probe);
    expect(findings).toContain('error AwsSolutions-SQS4 at NagProbe/PlainQueue/Resource');
    expect(findings.some((finding) => finding.includes('Serverless-SQSRedrivePolicy'))).toBe(true);
  });
});
