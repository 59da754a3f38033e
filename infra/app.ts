import { App } from 'aws-cdk-lib';
import { MakeIt3dBffStack } from './stacks/makeit3d-bff-stack.ts';
import { stageSettingsFromContext } from './stacks/stage-settings.ts';

/**
 * `cdk synth|deploy -c stage=<name>` (default `dev`). Other context keys: supabaseUrl (required
 * to deploy; a placeholder is used for synth), supabaseBucket, supabaseBucketPublic,
 * providerTimeoutSeconds, supabaseConceptImagesTable, supabaseModelsTable,
 * rateLimitGenerationPerMinute, rateLimitStatusPerMinute, apiServerErrorAlarmThreshold,
 * nonProduction / nonProductionStages (which stages get the test key and may be destroyed),
 * registrationFailuresPerWindow, registrationFailureWindowSeconds, and provider overrides.
 */
const app = new App();
const settings = stageSettingsFromContext(app.node);

// Without CDK_DEFAULT_* (no credentials) the stack is environment-agnostic, so synth works offline.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new MakeIt3dBffStack(app, `MakeIt3dBff-${settings.stage}`, {
  stackName: `makeit3d-bff-${settings.stage}`,
  settings,
  ...(account && region ? { env: { account, region } } : {}),
});

app.synth();
