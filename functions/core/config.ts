import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import type { ModelSetting, ProviderSettings } from './providers/provider-settings.ts';

/**
 * Configuration from the environment, parsed once per cold start. Settings that only some
 * functions need are optional here and demanded with `required()` where they are used, so a
 * missing variable fails fast with its name.
 */

const booleanFromString = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const positiveInt = z.coerce.number().int().positive();

const EnvironmentSchema = z.object({
  STAGE: z.string().min(1).default('local'),
  /**
   * Set to `true` only where a stage is explicitly marked non-production (CDK context
   * `nonProduction`, the local stack): the test key works and keys are issued as `makeit3d_test_…`.
   * Unset means production, whatever the stage is called.
   */
  NON_PRODUCTION: booleanFromString.default(false),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  TABLE_NAME: z.string().min(1).default('makeit3d-bff'),
  DYNAMODB_ENDPOINT: z.url().optional(),
  STATE_MACHINE_ARN: z.string().min(1).optional(),
  STEPFUNCTIONS_ENDPOINT: z.url().optional(),
  SUPABASE_URL: z.url().optional(),
  SUPABASE_BUCKET: z.string().min(1).default('makeit3d-app-assets'),
  SUPABASE_BUCKET_PUBLIC: booleanFromString.default(true),
  SUPABASE_SIGNED_URL_TTL_SECONDS: positiveInt.default(3600),
  SUPABASE_CONCEPT_IMAGES_TABLE: z.string().min(1).default('concept_images'),
  SUPABASE_MODELS_TABLE: z.string().min(1).default('models'),
  PROVIDER_TIMEOUT_SECONDS: z.coerce.number().positive().default(300),
  RATE_LIMIT_GENERATION_PER_MINUTE: positiveInt.default(60),
  RATE_LIMIT_STATUS_PER_MINUTE: positiveInt.default(600),
  /** Failed `POST /auth/register` attempts one client address may make per window, then 429. */
  REGISTRATION_FAILURES_PER_WINDOW: positiveInt.default(10),
  /** The window starts at an address's first failure; its attempts answer 429 until it ends. */
  REGISTRATION_FAILURE_WINDOW_SECONDS: positiveInt.default(15 * 60),
  TASK_RETENTION_DAYS: positiveInt.default(90),
  IDEMPOTENCY_RETENTION_HOURS: positiveInt.default(24),
  /**
   * How long a claimed Idempotency-Key may wait for its task to be written before a repeat treats
   * the claim as dead and takes it over (longer than the submit function's 20 s timeout).
   */
  IDEMPOTENCY_CLAIM_TIMEOUT_SECONDS: z.coerce.number().int().min(0).default(30),
  MAX_INPUT_BYTES: positiveInt.default(20 * 1024 * 1024),
  /**
   * Multiplies the waits between in-step retries (transient-retry.ts). 1 in every deployment; the
   * local test stack sets 0 with its zero retry intervals, so tests of retried faults do not sleep.
   */
  RETRY_WAIT_SCALE: z.coerce.number().min(0).max(1).default(1),
});

export type Config = z.infer<typeof EnvironmentSchema> & {
  /**
   * NON_PRODUCTION, except that a stage named `production` never is (contract §2), whatever is
   * set: a mistaken flag must not open the production stage to the public test key.
   */
  nonProduction: boolean;
  /** The well-known test key works only on a stage marked non-production. */
  testKeyEnabled: boolean;
};

let cached: Config | undefined;

export function getConfig(): Config {
  if (cached) return cached;
  const parsed = EnvironmentSchema.safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  const nonProduction = parsed.data.NON_PRODUCTION && parsed.data.STAGE !== 'production';
  cached = { ...parsed.data, nonProduction, testKeyEnabled: nonProduction };
  return cached;
}

/** Forgets the parsed configuration (tests and the local host change the environment). */
export function resetConfig(): void {
  cached = undefined;
  providerValues.clear();
  secretCache.clear();
}

const providerValues = new Map<string, string>();

/** A provider setting from its variable, else its default; an invalid value names the variable. */
function providerValue(variable: string, fallback: string, schema: z.ZodType<string>, what: string): string {
  const known = providerValues.get(variable);
  if (known !== undefined) return known;
  const raw = process.env[variable];
  const value = raw === undefined || raw.trim() === '' ? fallback : raw.trim();
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`Invalid configuration: ${variable} must be ${what}`);
  providerValues.set(variable, parsed.data);
  return parsed.data;
}

/** A provider's base URL (its settings' variable, else the default), without a trailing slash. */
export function providerBaseUrl(settings: ProviderSettings): string {
  const url = providerValue(settings.baseUrl.env, settings.baseUrl.default, z.url(), 'an http(s) URL');
  return url.replace(/\/+$/, '');
}

/** The model a provider is sent for a purpose: its variable (per stage), else the current default. */
export function providerModel(setting: ModelSetting): string {
  return providerValue(
    setting.env,
    setting.default,
    z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/),
    "a provider model id (letters, digits, '.', '_', ':' or '-')",
  );
}

/** A setting this code path cannot run without. */
export function required<T>(value: T | undefined, variable: string): T {
  if (value === undefined || value === '') {
    throw new Error(`Missing configuration: set the ${variable} environment variable`);
  }
  return value;
}

const secretCache = new Map<string, Promise<string | undefined>>();
let secretsClient: SecretsManagerClient | undefined;

/**
 * A secret by name: the environment variable itself (local stack, tests), else the Secrets
 * Manager secret whose ARN is in `<NAME>_SECRET_ARN` (AWS), read once per cold start.
 * Undefined when neither is set.
 */
export function getSecret(name: string): Promise<string | undefined> {
  const known = secretCache.get(name);
  if (known) return known;
  const promise = readSecret(name);
  secretCache.set(name, promise);
  promise.catch(() => secretCache.delete(name));
  return promise;
}

async function readSecret(name: string): Promise<string | undefined> {
  const direct = process.env[name];
  if (direct !== undefined && direct !== '') return direct;
  const arn = process.env[`${name}_SECRET_ARN`];
  if (!arn) return undefined;
  secretsClient ??= new SecretsManagerClient({ region: getConfig().AWS_REGION });
  const result = await secretsClient.send(new GetSecretValueCommand({ SecretId: arn }));
  const value = result.SecretString?.trim();
  return value === '' ? undefined : value;
}

export async function requireSecret(name: string): Promise<string> {
  return required(await getSecret(name), `${name} (or ${name}_SECRET_ARN)`);
}
