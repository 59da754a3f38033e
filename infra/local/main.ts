import { existsSync } from 'node:fs';
import type { LocalStack } from './local-stack.ts';

/** `npm start`: the whole API on this machine. */
if (existsSync('.env')) process.loadEnvFile('.env');

// Ctrl-C is handled from the first line, not only once the stack is up: a stop during startup
// lets startup finish what it opened (ports, the DynamoDB files) and then closes it all.
let starting: Promise<LocalStack> | undefined;
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) {
    // A second Ctrl-C does not wait.
    process.exit(130);
  }
  stopping = true;
  const stack = await starting?.catch(() => undefined);
  await stack?.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
process.stdout.write('Starting the local stack…\n');

// Loaded after the handlers above are in place: importing every function takes a moment.
const { startLocalStack } = await import('./local-stack.ts');
if (!stopping) {
  starting = startLocalStack();
  let stack: LocalStack;
  try {
    stack = await starting;
  } catch (error) {
    process.stderr.write(`The local stack did not start: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
  // startLocalStack resolves only once every route is served, so the banner means "ready".
  if (!stopping) {
    const line = '─'.repeat(72);
    const banner = [
      line,
      ' MakeIt3D BFF — local stack',
      line,
      ` API             ${stack.url}`,
      ` Health          ${stack.url}/health`,
      ` Test API key    ${stack.testApiKey ?? '(disabled: NON_PRODUCTION is not true)'}`,
      ` Registration    REGISTRATION_SECRET=${stack.registrationSecret}`,
      ` Storage         ${stack.url}/storage/v1/object/public/${process.env.SUPABASE_BUCKET ?? 'makeit3d-app-assets'}/…`,
      ` Data            ${stack.dataDir}`,
      ` Sandboxed       ${stack.sandboxed.join(', ') || 'none'}   (faults: POST ${stack.url}/__sandbox/<provider>/faults)`,
      ` Real providers  ${stack.configured.join(', ') || 'none (set OPENAI_API_KEY etc. to call the real API)'}`,
      line,
    ];
    process.stdout.write(`${banner.join('\n')}\n`);
  }
}
