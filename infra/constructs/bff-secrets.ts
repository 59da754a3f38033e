import { type RemovalPolicy, SecretValue, Validations } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PROVIDER_KEY_NAMES } from '../../functions/core/providers/settings.ts';

/**
 * Provider API keys, from each provider's settings module: the provider Lambdas read all of them
 * (the catalogue picks the provider).
 */
export const PROVIDER_SECRET_NAMES = PROVIDER_KEY_NAMES;

/** Every name functions/core/config.ts `getSecret()` is asked for. */
export const SECRET_NAMES = [
  ...PROVIDER_SECRET_NAMES,
  'SUPABASE_SERVICE_KEY',
  'REGISTRATION_SECRET',
  // Tripo's webhook signing secret (`whsec_…`, from its console): docs/api.md, Webhooks.
  'TRIPO_WEBHOOK_SECRET',
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

export interface BffSecretsProps {
  stage: string;
  removalPolicy: RemovalPolicy;
  /**
   * The secrets exist already (retained from a deleted stack of this stage): use them by name,
   * keeping their values, instead of creating them (which would fail: the names are taken).
   */
  existing?: boolean;
}

const NO_ROTATION_REASON: Record<'provider' | 'registration', string> = {
  provider:
    "A third party's API key (provider or Supabase service key): only its owner can issue a new one, so rotation is an operator's put-secret-value, which functions pick up within the secret cache's TTL",
  registration:
    'The registration secret is an operator credential shared by hand; rotating it automatically would lock operators out. Rotate with put-secret-value (picked up within the secret cache TTL)',
};

/**
 * One Secrets Manager secret per secret name, named `makeit3d-bff/<stage>/<NAME>`. A function
 * is given `<NAME>_SECRET_ARN` and read access for exactly the secrets it uses.
 */
export class BffSecrets extends Construct {
  private readonly secrets: Record<SecretName, ISecret>;

  constructor(scope: Construct, id: string, props: BffSecretsProps) {
    super(scope, id);
    const create = (name: SecretName): ISecret => {
      const secretName = secretNameFor(props.stage, name);
      // A partial ARN (no random suffix): GetSecretValue resolves it, and the grant covers the suffix.
      if (props.existing) return Secret.fromSecretNameV2(this, name, secretName);
      const secret = createSecret(name, secretName);
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: NO_ROTATION_REASON[name === 'REGISTRATION_SECRET' ? 'registration' : 'provider'],
      });
      return secret;
    };
    const createSecret = (name: SecretName, secretName: string): Secret => {
      if (name === 'REGISTRATION_SECRET') {
        // Ours to invent: a strong random value an operator reads from the console.
        return new Secret(this, name, {
          secretName,
          description: 'Verification secret for POST /auth/register',
          generateSecretString: { passwordLength: 48, excludePunctuation: true },
          removalPolicy: props.removalPolicy,
        });
      }
      // A key only its owner can provide. Secrets Manager needs some initial value; a blank
      // one reads as "not set" (getSecret trims it away), so a call fails with the secret's
      // name instead of a provider 401 until an operator puts the real key. Later deployments
      // leave the value alone while this initial value stays unchanged.
      return new Secret(this, name, {
        secretName,
        description: `${name} for the MakeIt3D BFF (${props.stage}); set it with put-secret-value`,
        secretStringValue: SecretValue.unsafePlainText(' '),
        removalPolicy: props.removalPolicy,
      });
    };
    this.secrets = Object.fromEntries(SECRET_NAMES.map((name) => [name, create(name)])) as Record<
      SecretName,
      ISecret
    >;
  }

  /** `<NAME>_SECRET_ARN` in the function's environment and read access to those secrets only. */
  grantTo(fn: LambdaFunction, names: readonly SecretName[]): void {
    for (const name of names) {
      const secret = this.secrets[name];
      fn.addEnvironment(`${name}_SECRET_ARN`, secret.secretArn);
      secret.grantRead(fn);
    }
  }
}

export function secretNameFor(stage: string, name: SecretName): string {
  return `makeit3d-bff/${stage}/${name}`;
}
