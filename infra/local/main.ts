import { existsSync } from 'node:fs';
import { startLocalStack } from './local-stack.ts';

/** `npm start`: the whole API on this machine. */
if (existsSync('.env')) process.loadEnvFile('.env');

const stack = await startLocalStack();
const line = '─'.repeat(72);
const banner = [
  line,
  ' MakeIt3D BFF — local stack',
  line,
  ` API             ${stack.url}`,
  ` Health          ${stack.url}/health`,
  ` Test API key    ${stack.testApiKey ?? '(disabled in a production stage)'}`,
  ` Registration    REGISTRATION_SECRET=${stack.registrationSecret}`,
  ` Storage         ${stack.url}/storage/v1/object/public/${process.env.SUPABASE_BUCKET ?? 'makeit3d-app-assets'}/…`,
  ` Data            ${stack.dataDir}`,
  ` Sandboxed       ${stack.sandboxed.join(', ') || 'none'}   (faults: POST ${stack.url}/__sandbox/<provider>/faults)`,
  ` Real providers  ${stack.configured.join(', ') || 'none (set OPENAI_API_KEY etc. to call the real API)'}`,
  line,
];
process.stdout.write(`${banner.join('\n')}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
