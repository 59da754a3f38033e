import type { Node } from 'constructs';
import { settingVariables } from '../../functions/core/providers/provider-settings.ts';
import { PROVIDER_SETTINGS } from '../../functions/core/providers/settings.ts';

/**
 * What differs between deployments of the BFF, read from CDK context (`-c key=value` or the
 * `context` block of cdk.json). Everything else is fixed by the stack.
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
  /** The Supabase project every input URL must belong to and results are uploaded to. */
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
  /** API 5xx responses in five minutes above which the alarm fires. */
  apiServerErrorAlarmThreshold: number;
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
 * Lets `cdk synth` run without a Supabase project; a deployment with it cannot reach storage,
 * so the stack warns when it is used.
 */
export const PLACEHOLDER_SUPABASE_URL = 'https://your-project.supabase.co';

/** Stage names end up in resource names (secrets, the state machine), so they are kept plain. */
const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,23}$/;

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
  const read = (key: string): unknown => node.tryGetContext(key);
  const stage = optionalString(read('stage'), 'stage') ?? DEFAULT_STAGE;
  if (!STAGE_PATTERN.test(stage)) {
    throw new Error(
      `Invalid context stage=${stage}: use 1-24 lower-case letters, digits or dashes, starting with a letter`,
    );
  }
  const supabaseUrl = optionalString(read('supabaseUrl'), 'supabaseUrl') ?? PLACEHOLDER_SUPABASE_URL;
  if (!/^https?:\/\/[^/\s]+\/?$/.test(supabaseUrl)) {
    throw new Error(
      `Invalid context supabaseUrl=${supabaseUrl}: expected the project URL, like ${PLACEHOLDER_SUPABASE_URL}`,
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
    apiServerErrorAlarmThreshold:
      optionalNumber(read('apiServerErrorAlarmThreshold'), 'apiServerErrorAlarmThreshold') ?? 5,
    providerOverrides: Object.fromEntries(
      PROVIDER_OVERRIDE_KEYS.flatMap((key) => {
        const value = optionalString(read(key), key);
        return value === undefined ? [] : [[key, value]];
      }),
    ),
  };
}

// `-c key=value` always gives strings; cdk.json may give numbers and booleans.

function optionalString(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`Invalid context ${key}: expected a string`);
  return value.trim();
}

function optionalNumber(value: unknown, key: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new Error(`Invalid context ${key}=${String(value)}: expected a positive number`);
  }
  return parsed;
}

function optionalInteger(value: unknown, key: string): number | undefined {
  const parsed = optionalNumber(value, key);
  if (parsed !== undefined && !Number.isInteger(parsed)) {
    throw new Error(`Invalid context ${key}=${String(value)}: expected a whole number`);
  }
  return parsed;
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
