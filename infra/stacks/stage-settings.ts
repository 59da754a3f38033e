import type { Node } from 'constructs';
import { API_KEY_CACHE_MAX_SECONDS } from '../../functions/core/config.ts';
import { settingVariables } from '../../functions/core/providers/provider-settings.ts';
import { PROVIDER_SETTINGS } from '../../functions/core/providers/settings.ts';

/** Requests per second and burst of one API Gateway throttle (HTTP API route settings). */
export interface Throttle {
  rateLimit: number;
  burstLimit: number;
}

/** The route groups that get their own throttle; every other route takes `default`. */
export const THROTTLED_ROUTE_GROUPS = ['generation', 'status', 'registration'] as const;
export type ThrottledRouteGroup = (typeof THROTTLED_ROUTE_GROUPS)[number];

/** Log levels both Powertools and Lambda's application log level accept. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * What differs between deployments of the BFF, read from CDK context (`-c key=value` or the
 * `context` block of cdk.json). Everything else is fixed by the stack. Every key is checked at
 * synth: a missing Supabase URL, a malformed value or an unknown key fails `cdk synth|deploy`
 * with a message naming the key, before anything is deployed.
 */
export interface StageSettings {
  stage: string;
  /**
   * True only for a stage explicitly marked non-production: context `nonProduction=true`, or the
   * stage's name in context `nonProductionStages` (cdk.json marks `dev`). Such a stage accepts the
   * public test key, issues `makeit3d_test_…` keys and deletes its data with the stack. Any other
   * stage, whatever its name, is production: no test key, `makeit3d_live_…` keys, data retained.
   */
  nonProduction: boolean;
  /** The Supabase project every input URL must belong to and results are uploaded to (required). */
  supabaseUrl: string;
  supabaseBucket: string;
  /** False when the bucket is private: status answers then carry signed URLs. */
  supabaseBucketPublic: boolean;
  /** HTTP timeout for one provider call; clamped per function below its Lambda timeout. */
  providerTimeoutSeconds: number;
  supabaseConceptImagesTable?: string | undefined;
  supabaseModelsTable?: string | undefined;
  rateLimitGenerationPerMinute?: number | undefined;
  rateLimitStatusPerMinute?: number | undefined;
  /** Failed `POST /auth/register` attempts per client address and window (default 10). */
  registrationFailuresPerWindow?: number | undefined;
  /** That window, from an address's first attempt (default 900 seconds). */
  registrationFailureWindowSeconds?: number | undefined;
  /** API_KEY_CACHE_SECONDS (0-60): how long an instance may accept a key it just accepted. */
  apiKeyCacheSeconds?: number | undefined;
  /** API 5xx responses in five minutes above which the alarm fires (default 5). */
  apiServerErrorAlarmThreshold: number;
  /** Tasks failed by the service's fault (`ServiceFailure`) in five minutes above which the alarm fires (default 0). */
  serviceFailureAlarmThreshold: number;
  /** Errors of one function in five minutes above which its alarm fires (default 0). */
  lambdaErrorAlarmThreshold: number;
  /** Where alarm notifications are mailed (an SNS email subscription); none when unset. */
  alarmEmail?: string | undefined;
  /** POWERTOOLS_LOG_LEVEL and Lambda's application log level of every function (default INFO). */
  logLevel: LogLevel;
  /** API Gateway throttling: the stage's default route settings, and per route group. */
  throttle: Record<'default' | ThrottledRouteGroup, Throttle>;
  /** A custom domain for the API (an ACM certificate in the stack's region covers it). */
  customDomain?: { domainName: string; certificateArn: string } | undefined;
  /**
   * Re-deploy from retained resources: the name of a table kept from a deleted stack of this
   * stage, used instead of creating one (its API keys and tasks stay valid).
   */
  existingTableName?: string | undefined;
  /** The stage's secrets (`makeit3d-bff/<stage>/<NAME>`) exist already: use them, do not create them. */
  existingSecrets: boolean;
  /** Overrides of the scheduled reconciler's deadlines (seconds); the stack's defaults otherwise. */
  stuckPendingSeconds?: number | undefined;
  stuckProcessingSeconds?: number | undefined;
  stuckRowsSeconds?: number | undefined;
  /**
   * Provider base URLs and models that differ from the defaults in the providers' settings
   * modules, keyed by their variable (`-c OPENAI_TEXT_TO_IMAGE_MODEL=gpt-image-2.5-flare`,
   * `-c TRIPO_BASE_URL=https://openapi.tripo3d.com/v3`): the next provider retirement is a
   * context change and a deploy, not a code change.
   */
  providerOverrides: Record<string, string>;
}

/** Every variable a provider's settings name (base URLs and models), as a CDK context key. */
export const PROVIDER_OVERRIDE_KEYS: readonly string[] = PROVIDER_SETTINGS.flatMap(settingVariables);

export const DEFAULT_STAGE = 'dev';
export const PRODUCTION_STAGE = 'production';

/**
 * The Supabase URL `npm run synth` renders the template with (an offline check that needs no
 * project). A deployment with it cannot reach storage, so the stack warns when it is used.
 */
export const EXAMPLE_SUPABASE_URL = 'https://example.supabase.co';

/** Throttles when context sets none: generation (paid work) lowest, status polling highest. */
export const DEFAULT_THROTTLE: Record<'default' | ThrottledRouteGroup, Throttle> = {
  default: { rateLimit: 50, burstLimit: 100 },
  generation: { rateLimit: 10, burstLimit: 20 },
  status: { rateLimit: 100, burstLimit: 200 },
  registration: { rateLimit: 1, burstLimit: 5 },
};

const THROTTLE_KEYS: Record<'default' | ThrottledRouteGroup, string> = {
  default: 'throttleDefault',
  generation: 'throttleGeneration',
  status: 'throttleStatus',
  registration: 'throttleRegistration',
};

/** The stage settings' context keys (each is read below). */
export const STAGE_SETTING_KEYS = [
  'stage',
  'nonProduction',
  'nonProductionStages',
  'supabaseUrl',
  'supabaseBucket',
  'supabaseBucketPublic',
  'providerTimeoutSeconds',
  'supabaseConceptImagesTable',
  'supabaseModelsTable',
  'rateLimitGenerationPerMinute',
  'rateLimitStatusPerMinute',
  'registrationFailuresPerWindow',
  'registrationFailureWindowSeconds',
  'apiKeyCacheSeconds',
  'apiServerErrorAlarmThreshold',
  'serviceFailureAlarmThreshold',
  'lambdaErrorAlarmThreshold',
  'alarmEmail',
  'logLevel',
  ...Object.values(THROTTLE_KEYS),
  'domainName',
  'certificateArn',
  'existingTableName',
  'existingSecrets',
  'stuckPendingSeconds',
  'stuckProcessingSeconds',
  'stuckRowsSeconds',
] as const;

/**
 * Keys the CDK CLI itself may keep in cdk.json's context (`cdk acknowledge`, `cdk cli-telemetry`).
 * Feature flags and lookups all contain `:` (`@aws-cdk/core:…`, `aws:cdk:…`) and pass untouched.
 */
const CDK_TOOL_KEYS = ['acknowledged-issue-numbers', 'cli-telemetry'];

/** Stage names end up in resource names (secrets, the state machine), so they are kept plain. */
const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,23}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DOMAIN_PATTERN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const CERTIFICATE_ARN_PATTERN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
/** DynamoDB table names: 3-255 letters, digits, `_`, `-` and `.`. */
const TABLE_NAME_PATTERN = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * Whether context marks this stage non-production. `-c nonProduction=true|false` decides for the
 * stage being deployed; otherwise the stage must be listed in `nonProductionStages` (an array in
 * cdk.json, or comma-separated with `-c`). A list, not a bare flag in cdk.json, so that
 * `-c stage=prod` can never inherit a flag meant for the dev stage. `production` cannot be marked.
 */
function nonProductionFromContext(read: (key: string) => unknown, stage: string): boolean {
  const explicit = optionalBoolean(read('nonProduction'), 'nonProduction');
  const listed = stageList(read('nonProductionStages'), 'nonProductionStages').includes(stage);
  const nonProduction = explicit ?? listed;
  if (nonProduction && stage === PRODUCTION_STAGE) {
    throw new Error(
      `Invalid context: stage ${PRODUCTION_STAGE} cannot be marked non-production (nonProduction / nonProductionStages)`,
    );
  }
  return nonProduction;
}

export function stageSettingsFromContext(node: Node): StageSettings {
  rejectUnknownKeys(Object.keys(node.getAllContext() as Record<string, unknown>));
  const read = (key: string): unknown => node.tryGetContext(key);
  const stage = optionalString(read('stage'), 'stage') ?? DEFAULT_STAGE;
  if (!STAGE_PATTERN.test(stage)) {
    throw new Error(
      `Invalid context stage=${stage}: use 1-24 lower-case letters, digits or dashes, starting with a letter`,
    );
  }
  const supabaseUrl = optionalString(read('supabaseUrl'), 'supabaseUrl');
  if (supabaseUrl === undefined) {
    throw new Error(
      'Missing context supabaseUrl: pass -c supabaseUrl=https://<project>.supabase.co (your Supabase project; every input URL must belong to it and results are stored there). `npm run synth` renders offline with an example URL.',
    );
  }
  if (!/^https?:\/\/[^/\s]+\/?$/.test(supabaseUrl)) {
    throw new Error(
      `Invalid context supabaseUrl=${supabaseUrl}: expected the project URL, like https://<project>.supabase.co`,
    );
  }
  const providerTimeoutSeconds =
    optionalNumber(read('providerTimeoutSeconds'), 'providerTimeoutSeconds') ?? 300;
  return {
    stage,
    nonProduction: nonProductionFromContext(read, stage),
    supabaseUrl: supabaseUrl.replace(/\/$/, ''),
    supabaseBucket: optionalString(read('supabaseBucket'), 'supabaseBucket') ?? 'makeit3d-app-assets',
    supabaseBucketPublic: optionalBoolean(read('supabaseBucketPublic'), 'supabaseBucketPublic') ?? true,
    providerTimeoutSeconds,
    supabaseConceptImagesTable: optionalString(
      read('supabaseConceptImagesTable'),
      'supabaseConceptImagesTable',
    ),
    supabaseModelsTable: optionalString(read('supabaseModelsTable'), 'supabaseModelsTable'),
    rateLimitGenerationPerMinute: optionalInteger(
      read('rateLimitGenerationPerMinute'),
      'rateLimitGenerationPerMinute',
    ),
    rateLimitStatusPerMinute: optionalInteger(read('rateLimitStatusPerMinute'), 'rateLimitStatusPerMinute'),
    registrationFailuresPerWindow: optionalInteger(
      read('registrationFailuresPerWindow'),
      'registrationFailuresPerWindow',
    ),
    registrationFailureWindowSeconds: optionalInteger(
      read('registrationFailureWindowSeconds'),
      'registrationFailureWindowSeconds',
    ),
    apiKeyCacheSeconds: apiKeyCacheSeconds(read('apiKeyCacheSeconds')),
    apiServerErrorAlarmThreshold:
      optionalNumber(read('apiServerErrorAlarmThreshold'), 'apiServerErrorAlarmThreshold') ?? 5,
    serviceFailureAlarmThreshold:
      optionalCount(read('serviceFailureAlarmThreshold'), 'serviceFailureAlarmThreshold') ?? 0,
    lambdaErrorAlarmThreshold:
      optionalCount(read('lambdaErrorAlarmThreshold'), 'lambdaErrorAlarmThreshold') ?? 0,
    alarmEmail: optionalEmail(read('alarmEmail'), 'alarmEmail'),
    logLevel: logLevelFrom(read('logLevel')),
    throttle: Object.fromEntries(
      Object.entries(THROTTLE_KEYS).map(([group, key]) => [
        group,
        optionalThrottle(read(key), key) ?? DEFAULT_THROTTLE[group as keyof typeof THROTTLE_KEYS],
      ]),
    ) as StageSettings['throttle'],
    customDomain: customDomainFrom(read),
    existingTableName: optionalMatching(
      read('existingTableName'),
      'existingTableName',
      TABLE_NAME_PATTERN,
      'a DynamoDB table name (3-255 letters, digits, _ - .)',
    ),
    existingSecrets: optionalBoolean(read('existingSecrets'), 'existingSecrets') ?? false,
    stuckPendingSeconds: optionalInteger(read('stuckPendingSeconds'), 'stuckPendingSeconds'),
    stuckProcessingSeconds: optionalInteger(read('stuckProcessingSeconds'), 'stuckProcessingSeconds'),
    stuckRowsSeconds: optionalInteger(read('stuckRowsSeconds'), 'stuckRowsSeconds'),
    providerOverrides: Object.fromEntries(
      PROVIDER_OVERRIDE_KEYS.flatMap((key) => {
        const value = optionalString(read(key), key);
        return value === undefined ? [] : [[key, value]];
      }),
    ),
  };
}

/**
 * A context key that is neither a stage setting, a provider override, a CDK CLI key nor a CDK
 * flag (`:` in its name) is a typo or a setting this stack does not have: silently ignoring it
 * would deploy something other than what was asked, so synth fails and lists the known keys.
 */
function rejectUnknownKeys(keys: readonly string[]): void {
  const known = new Set<string>([...STAGE_SETTING_KEYS, ...PROVIDER_OVERRIDE_KEYS, ...CDK_TOOL_KEYS]);
  const unknown = keys.filter((key) => !key.includes(':') && !known.has(key));
  if (unknown.length === 0) return;
  const hints = unknown.flatMap((key) => {
    const near = [...known].find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    return near ? [`${key} → did you mean ${near}?`] : [];
  });
  throw new Error(
    [
      `Unknown context key${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')}.`,
      ...hints,
      `Known stage settings: ${[...STAGE_SETTING_KEYS].sort().join(', ')}.`,
      `Provider overrides: ${[...PROVIDER_OVERRIDE_KEYS].sort().join(', ')}.`,
      'Keys containing ":" (CDK feature flags) are left to CDK.',
    ].join(' '),
  );
}

function customDomainFrom(read: (key: string) => unknown): StageSettings['customDomain'] {
  const domainName = optionalMatching(
    typeof read('domainName') === 'string' ? String(read('domainName')).toLowerCase() : read('domainName'),
    'domainName',
    DOMAIN_PATTERN,
    'a host name like api.example.com',
  );
  const certificateArn = optionalMatching(
    read('certificateArn'),
    'certificateArn',
    CERTIFICATE_ARN_PATTERN,
    'an ACM certificate ARN, like arn:aws:acm:<region>:<account>:certificate/<id>',
  );
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error(
      'Invalid context: domainName and certificateArn go together (the API custom domain and the ACM certificate, in the stack region, that covers it); pass both or neither',
    );
  }
  return domainName && certificateArn ? { domainName, certificateArn } : undefined;
}

function logLevelFrom(value: unknown): LogLevel {
  const level = optionalString(value, 'logLevel')?.toUpperCase();
  if (level === undefined) return 'INFO';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`Invalid context logLevel=${String(value)}: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return level as LogLevel;
}

// `-c key=value` always gives strings; cdk.json may give numbers and booleans.

function optionalString(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`Invalid context ${key}: expected a string`);
  return value.trim();
}

function optionalMatching(value: unknown, key: string, pattern: RegExp, what: string): string | undefined {
  const text = optionalString(value, key);
  if (text !== undefined && !pattern.test(text)) {
    throw new Error(`Invalid context ${key}=${text}: expected ${what}`);
  }
  return text;
}

function optionalEmail(value: unknown, key: string): string | undefined {
  const text = optionalString(value, key);
  if (text !== undefined && (text.length > 254 || !EMAIL_PATTERN.test(text))) {
    throw new Error(`Invalid context ${key}=${text}: expected one email address, like ops@example.com`);
  }
  return text;
}

function optionalNumber(value: unknown, key: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new Error(`Invalid context ${key}=${String(value)}: expected a positive number`);
  }
  return parsed;
}

/** A whole number, zero allowed (alarm thresholds: `> 0` means "any"). */
function optionalCount(value: unknown, key: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw new Error(`Invalid context ${key}=${String(value)}: expected a whole number, 0 or more`);
  }
  return parsed;
}

/** The same range the functions accept (functions/core/config.ts). */
function apiKeyCacheSeconds(value: unknown): number | undefined {
  const seconds = optionalInteger(value, 'apiKeyCacheSeconds');
  if (seconds !== undefined && (seconds < 0 || seconds > API_KEY_CACHE_MAX_SECONDS)) {
    throw new Error(
      `Invalid context apiKeyCacheSeconds=${String(value)}: expected 0 to ${API_KEY_CACHE_MAX_SECONDS} seconds`,
    );
  }
  return seconds;
}

function optionalInteger(value: unknown, key: string): number | undefined {
  const parsed = optionalNumber(value, key);
  if (parsed !== undefined && !Number.isInteger(parsed)) {
    throw new Error(`Invalid context ${key}=${String(value)}: expected a whole number`);
  }
  return parsed;
}

/** `<requests per second>/<burst>`, like `10/20`. */
function optionalThrottle(value: unknown, key: string): Throttle | undefined {
  const text = optionalString(typeof value === 'number' ? String(value) : value, key);
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(text);
  const rateLimit = Number(match?.[1]);
  const burstLimit = Number(match?.[2]);
  if (!match || rateLimit <= 0 || burstLimit < 1) {
    throw new Error(
      `Invalid context ${key}=${text}: expected <requests per second>/<burst>, like 10/20 (both above 0, burst a whole number)`,
    );
  }
  return { rateLimit, burstLimit };
}

function stageList(value: unknown, key: string): string[] {
  if (value === undefined || value === null || value === '') return [];
  const entries = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(entries) || entries.some((entry) => typeof entry !== 'string')) {
    throw new Error(`Invalid context ${key}: expected stage names (an array, or comma-separated)`);
  }
  return entries.map((entry: string) => entry.trim()).filter((entry) => entry !== '');
}

function optionalBoolean(value: unknown, key: string): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`Invalid context ${key}=${String(value)}: expected true or false`);
}
