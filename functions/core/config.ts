import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { redactSecretValue } from './observability/redaction.ts';
import type { ModelSetting, ProviderSettings } from './providers/provider-settings.ts';

// zod's functional build (`zod/mini`): every function parses its configuration at cold start, and
// the status path loads no other zod (README, Benchmarks). Its messages come from zod's English
// locale, which `zod/mini` does not load by itself.
z.config(en());

/**
 * Configuration from the environment, parsed once per cold start. Settings that only some
 * functions need are optional here and demanded with `required()` where they are used, so a
 * missing variable fails fast with its name.
 */

const booleanFromString = z.pipe(
  z.enum(['true', 'false', '1', '0']),
  z.transform((value: 'true' | 'false' | '1' | '0') => value === 'true' || value === '1'),
);

/** A whole number from its text, within `[min, max]`. */
const intFrom = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.pipe(z.coerce.number(), z.int().check(z.minimum(min), z.maximum(max)));
const positiveInt = intFrom(1);
const nonNegativeInt = intFrom(0);
const nonEmpty = z.string().check(z.minLength(1));

/** The longest API_KEY_CACHE_SECONDS accepted (also the stage setting's bound). */
export const API_KEY_CACHE_MAX_SECONDS = 60;

/**
 * `TimeoutSeconds` of state-machines/generation.asl.json: no execution runs longer, so a task
 * `processing` for longer than this has lost its execution. A unit test keeps the two equal (the
 * ASL is not imported here: every function bundles this module).
 */
export const GENERATION_EXECUTION_TIMEOUT_SECONDS = 7200;

const EnvironmentSchema = z.object({
  STAGE: z._default(nonEmpty, 'local'),
  /**
   * Set to `true` only where a stage is explicitly marked non-production (CDK context
   * `nonProduction`, the local stack): the test key works and keys are issued as `makeit3d_test_…`.
   * Unset means production, whatever the stage is called.
   */
  NON_PRODUCTION: z._default(booleanFromString, false),
  AWS_REGION: z._default(nonEmpty, 'us-east-1'),
  TABLE_NAME: z._default(nonEmpty, 'makeit3d-bff'),
  DYNAMODB_ENDPOINT: z.optional(z.url()),
  STATE_MACHINE_ARN: z.optional(nonEmpty),
  STEPFUNCTIONS_ENDPOINT: z.optional(z.url()),
  SUPABASE_URL: z.optional(z.url()),
  SUPABASE_BUCKET: z._default(nonEmpty, 'makeit3d-app-assets'),
  SUPABASE_BUCKET_PUBLIC: z._default(booleanFromString, true),
  SUPABASE_SIGNED_URL_TTL_SECONDS: z._default(positiveInt, 3600),
  SUPABASE_CONCEPT_IMAGES_TABLE: z._default(nonEmpty, 'concept_images'),
  SUPABASE_MODELS_TABLE: z._default(nonEmpty, 'models'),
  PROVIDER_TIMEOUT_SECONDS: z._default(z.coerce.number().check(z.positive()), 300),
  RATE_LIMIT_GENERATION_PER_MINUTE: z._default(positiveInt, 60),
  RATE_LIMIT_STATUS_PER_MINUTE: z._default(positiveInt, 600),
  /** Failed `POST /auth/register` attempts one client address may make per window, then 429. */
  REGISTRATION_FAILURES_PER_WINDOW: z._default(positiveInt, 10),
  /** The window starts at an address's first failure; its attempts answer 429 until it ends. */
  REGISTRATION_FAILURE_WINDOW_SECONDS: z._default(positiveInt, 15 * 60),
  TASK_RETENTION_DAYS: z._default(positiveInt, 90),
  IDEMPOTENCY_RETENTION_HOURS: z._default(positiveInt, 24),
  /**
   * How long a claimed Idempotency-Key may wait for its task to be written before a repeat treats
   * the claim as dead and takes it over (longer than the submit function's 20 s timeout).
   */
  IDEMPOTENCY_CLAIM_TIMEOUT_SECONDS: z._default(nonNegativeInt, 30),
  MAX_INPUT_BYTES: z._default(positiveInt, 20 * 1024 * 1024),
  /**
   * Multiplies the waits between in-step retries (transient-retry.ts). 1 in every deployment; the
   * local test stack sets 0 with its zero retry intervals, so tests of retried faults do not sleep.
   */
  RETRY_WAIT_SCALE: z._default(z.coerce.number().check(z.minimum(0), z.maximum(1)), 1),
  /** Where the Secrets Manager API is (tests point it at a local server); AWS needs none. */
  SECRETS_MANAGER_ENDPOINT: z.optional(z.url()),
  /**
   * How long a secret read from Secrets Manager is used before it is read again, so a key put or
   * rotated after the deploy reaches warm functions within minutes. 0 reads it on every use.
   */
  SECRETS_TTL_SECONDS: z._default(nonNegativeInt, 300),
  /**
   * How long a process may accept a key it found active less than this many seconds ago without
   * reading its item again (auth/api-keys.ts). 0 (the default): every request reads it, so a
   * revoked key is refused from the next request on (docs/api.md, Authentication and tenants).
   */
  API_KEY_CACHE_SECONDS: z._default(intFrom(0, API_KEY_CACHE_MAX_SECONDS), 0),
  /**
   * The scheduled reconciler (functions/ops/reconcile-stuck-tasks.ts): a task still `pending` this
   * long after its last change never had its execution started (the submit died between writing
   * it and StartExecution), so the reconciler starts it.
   */
  STUCK_PENDING_SECONDS: z._default(nonNegativeInt, 300),
  /**
   * A task still `processing` this long after its last change has outlived any execution (the
   * state machine's own timeout plus a margin): if its execution is gone, it is failed `internal`.
   */
  STUCK_PROCESSING_SECONDS: z._default(nonNegativeInt, GENERATION_EXECUTION_TIMEOUT_SECONDS + 600),
  /** A finished task whose Supabase rows still do not show it this long after: written again. */
  STUCK_ROWS_SECONDS: z._default(nonNegativeInt, 900),
});

export type Config = z.infer<typeof EnvironmentSchema> & {
  /**
   * NON_PRODUCTION, except that a stage named `production` never is (docs/api.md, Authentication and tenants), whatever is
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
  secretsClient?.destroy();
  secretsClient = undefined;
}

const providerValues = new Map<string, string>();

/** A provider setting from its variable, else its default; an invalid value names the variable. */
function providerValue(
  variable: string,
  fallback: string,
  schema: z.ZodMiniType<string>,
  what: string,
): string {
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
    z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,100}$/)),
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

/**
 * The initial value the CDK gives each secret only an operator can provide
 * (infra/constructs/bff-secrets.ts): Secrets Manager needs some value, and this one reads as
 * "not set" here, like any blank value.
 */
export const SECRET_PLACEHOLDER = ' ';

/** Whether a secret's value means "not set": absent, empty or only whitespace (the placeholder). */
export function isUnsetSecret(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}

/** The clock of the secret cache; tests move it instead of waiting for the TTL. */
export const secretTiming = { now: (): number => Date.now() };

interface CachedSecret {
  /** The read in flight, or the value it gave. */
  value: Promise<string | undefined>;
  /** Until when (epoch ms) the value is used without reading it again. */
  freshUntil: number;
  /** The last value read, so a failed refresh answers it instead of failing the caller. */
  lastValue?: string;
}

const secretCache = new Map<string, CachedSecret>();
let secretsClient: SecretsManagerClient | undefined;

/**
 * A secret by name: the environment variable itself (local stack, tests), else the Secrets
 * Manager secret whose ARN is in `<NAME>_SECRET_ARN` (AWS). Undefined when neither is set.
 *
 * A value read from Secrets Manager is used for SECRETS_TTL_SECONDS and then read again, so a key
 * put or rotated after the deploy reaches warm functions within minutes. A value that reads as
 * unset (blank, or the CDK's placeholder) is never kept: the next call reads again, so filling a
 * blank secret takes effect at once. A failed read is not kept either: the next call tries again,
 * and meanwhile a refresh that fails answers the last value read (a Secrets Manager hiccup must
 * not fail work that ran a minute ago with that key). Concurrent calls share one read.
 */
export function getSecret(name: string): Promise<string | undefined> {
  const direct = process.env[name];
  if (direct !== undefined && direct !== '') return Promise.resolve(direct);
  const arn = process.env[`${name}_SECRET_ARN`];
  if (!arn) return Promise.resolve(undefined);
  const known = secretCache.get(name);
  if (known && secretTiming.now() < known.freshUntil) return known.value;
  const lastValue = known?.lastValue;
  const entry: CachedSecret = {
    value: Promise.resolve(undefined),
    // Until the read settles, callers share it.
    freshUntil: Number.POSITIVE_INFINITY,
    ...(lastValue === undefined ? {} : { lastValue }),
  };
  entry.value = readSecret(arn).then(
    (value) => {
      // Only the current entry is updated: resetConfig() may have forgotten this read meanwhile.
      if (secretCache.get(name) !== entry) return value;
      if (value === undefined) secretCache.delete(name);
      else {
        const ttlMs = getConfig().SECRETS_TTL_SECONDS * 1000;
        secretCache.set(name, {
          value: entry.value,
          freshUntil: secretTiming.now() + ttlMs,
          lastValue: value,
        });
      }
      return value;
    },
    (error: unknown) => {
      if (secretCache.get(name) !== entry) throw error;
      if (lastValue === undefined) {
        secretCache.delete(name);
        throw error;
      }
      // Answer the last value, and read again on the next call.
      secretCache.set(name, { value: Promise.resolve(lastValue), freshUntil: 0, lastValue });
      return lastValue;
    },
  );
  secretCache.set(name, entry);
  return entry.value;
}

async function readSecret(arn: string): Promise<string | undefined> {
  const config = getConfig();
  // Loaded on the first read from Secrets Manager: the status path and the local stack never read
  // one, and in a CommonJS bundle the module is then neither evaluated nor fully compiled.
  const { GetSecretValueCommand, SecretsManagerClient } = await import('./secrets-manager.ts');
  secretsClient ??= new SecretsManagerClient({
    region: config.AWS_REGION,
    ...(config.SECRETS_MANAGER_ENDPOINT ? { endpoint: config.SECRETS_MANAGER_ENDPOINT } : {}),
    // The SDK sets no time limit: a read that hangs would hold every caller sharing it.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
  });
  const result = await secretsClient.send(new GetSecretValueCommand({ SecretId: arn }));
  if (isUnsetSecret(result.SecretString)) return undefined;
  const value = result.SecretString?.trim();
  // Never in the environment, so the log scrubber learns it here (observability/redaction.ts).
  redactSecretValue(value);
  return value;
}

export async function requireSecret(name: string): Promise<string> {
  return required(await getSecret(name), `${name} (or ${name}_SECRET_ARN)`);
}
