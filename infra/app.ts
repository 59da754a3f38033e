import { App } from 'aws-cdk-lib';
import { MakeIt3dBffStack } from './stacks/makeit3d-bff-stack.ts';
import { stageSettingsFromContext } from './stacks/stage-settings.ts';

/**
 * `cdk synth|deploy -c stage=<name> -c supabaseUrl=https://<project>.supabase.co` (stage default
 * `dev`; supabaseUrl required). Every other context key is a stage setting of
 * infra/stacks/stage-settings.ts (STAGE_SETTING_KEYS) or a provider override; an unknown key, a
 * malformed value or a missing supabaseUrl fails synth with a message naming the key.
 * `npm run synth` renders offline with an example Supabase URL.
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
