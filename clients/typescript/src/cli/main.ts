import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { DEFAULT_BASE_URL, MakeIt3DClient, randomUuid, type WaitOptions } from '../client.ts';
import { MakeIt3DApiError, MakeIt3DError, MakeIt3DTaskFailedError } from '../errors.ts';
import { uploadToStorage } from '../storage.ts';
import type { RegisterRequest, TaskResult } from '../types.ts';
import {
  buildRequest,
  generalHelp,
  hasFlag,
  isOperation,
  operationHelp,
  option,
  type ParsedArgs,
  parseArgs,
  UsageError,
} from './args.ts';
import { ProgressDisplay, type ProgressOutput } from './progress.ts';

/** What the CLI writes to and reads from; the real process by default. */
export interface CliIo {
  stdout: ProgressOutput;
  stderr: ProgressOutput;
  env: NodeJS.ProcessEnv;
  cwd: string;
  fetch?: typeof fetch;
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.glb': 'model/gltf-binary',
};

const EXTENSIONS: Record<string, string> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/webp': '.webp',
  'model/gltf-binary': '.glb',
};

/** Runs one command; resolves with the exit code (0 done, 1 failed, 2 usage). */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const args = parseArgs(argv);
    return await dispatch(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`makeit3d: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`makeit3d: ${describeError(error)}\n`);
    return 1;
  }
}

/** The error sentence: the API's `detail` (with each field problem), or the task's `error`. */
export function describeError(error: unknown): string {
  if (error instanceof MakeIt3DTaskFailedError) return `${error.detail} (${error.errorCode})`;
  if (error instanceof MakeIt3DApiError) {
    const fields = error.errors.map((issue) => `\n  ${issue.field}: ${issue.message}`).join('');
    return `${error.detail}${fields}`;
  }
  if (error instanceof MakeIt3DError) return error.detail;
  return error instanceof Error ? error.message : String(error);
}

function clientFor(args: ParsedArgs, io: CliIo): MakeIt3DClient {
  const apiKey = option(args, 'api-key', io.env);
  return new MakeIt3DClient({
    baseUrl: option(args, 'base-url', io.env) ?? DEFAULT_BASE_URL,
    ...(apiKey ? { apiKey } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });
}

async function dispatch(args: ParsedArgs, io: CliIo): Promise<number> {
  const command = args.command;
  if (command === undefined || command === 'help') {
    io.stdout.write(`${generalHelp()}\n`);
    // `makeit3d` alone is a usage error; `makeit3d --help` and `makeit3d help` are not.
    return command === undefined && !hasFlag(args, 'help') ? 2 : 0;
  }
  if (command === 'health') {
    io.stdout.write(`${JSON.stringify(await clientFor(args, io).health())}\n`);
    return 0;
  }
  if (command === 'status') {
    const jobId = requiredPositional(args, 'status <job id>');
    io.stdout.write(`${JSON.stringify(await clientFor(args, io).getStatus(jobId), null, 2)}\n`);
    return 0;
  }
  if (command === 'wait') {
    const jobId = requiredPositional(args, 'wait <job id>');
    return await waitAndSave(clientFor(args, io), jobId, args, io);
  }
  if (command === 'register') {
    const field = (name: string) => option(args, name);
    const request: Record<string, unknown> = {
      verification_secret: field('verification-secret'),
      tenant_type: field('tenant-type'),
      tenant_identifier: field('tenant-identifier'),
    };
    if (field('tenant-name') !== undefined) request.tenant_name = field('tenant-name');
    const answer = await clientFor(args, io).register(request as unknown as RegisterRequest);
    io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return 0;
  }
  if (!isOperation(command)) {
    throw new UsageError(`Unknown command '${command}'; see makeit3d --help`);
  }
  if (hasFlag(args, 'help')) {
    io.stdout.write(`${operationHelp(command, option(args, 'provider'))}\n`);
    return 0;
  }
  const bodyFile = option(args, 'body');
  let fileBody: Record<string, unknown> = {};
  if (bodyFile !== undefined) {
    const parsed: unknown = JSON.parse(await readFile(resolve(io.cwd, bodyFile), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`${bodyFile} must hold a JSON object`);
    }
    fileBody = parsed as Record<string, unknown>;
  }
  const plan = buildRequest(command, args, fileBody);
  plan.body.task_id ??= `cli-${Date.now()}`;
  const client = clientFor(args, io);
  const progress = new ProgressDisplay(io.stderr);
  try {
    await uploadInputs(plan.body, plan.spec.inputFields, args, io, progress);
    progress.set('submitting');
    const idempotencyKey = option(args, 'idempotency-key');
    const submitted = await client.submit(command, plan.body as never, {
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    progress.stop();
    io.stderr.write(
      `Submitted ${command}${plan.provider && !submitted.replayed ? ` (${plan.provider})` : ''}: job ${submitted.jobId}${submitted.replayed ? ' (an earlier request with this Idempotency-Key)' : ''}\n`,
    );
    if (hasFlag(args, 'no-wait')) {
      io.stdout.write(`${submitted.jobId}\n`);
      return 0;
    }
    return await waitAndSave(client, submitted, args, io);
  } finally {
    progress.stop();
  }
}

function requiredPositional(args: ParsedArgs, usage: string): string {
  const value = args.positionals[0];
  if (!value) throw new UsageError(`usage: makeit3d ${usage}`);
  return value;
}

/** Replaces every input field naming a local file by the URL it was uploaded to. */
async function uploadInputs(
  body: Record<string, unknown>,
  inputFields: readonly string[],
  args: ParsedArgs,
  io: CliIo,
  progress: ProgressDisplay,
): Promise<void> {
  const supabaseUrl =
    option(args, 'supabase-url', io.env) ?? option(args, 'base-url', io.env) ?? DEFAULT_BASE_URL;
  const anonKey = option(args, 'supabase-anon-key', io.env);
  const accessToken = option(args, 'supabase-access-token', io.env);
  const bucket = option(args, 'bucket', io.env);
  const folder = `uploads/cli/${randomUuid()}`;
  const upload = async (value: unknown): Promise<unknown> => {
    if (typeof value !== 'string' || /^https?:\/\//i.test(value)) return value;
    const path = resolve(io.cwd, value);
    const bytes = new Uint8Array(await readFile(path));
    const contentType = CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
    progress.set(`uploading ${basename(path)}`);
    return uploadToStorage(
      {
        supabaseUrl,
        ...(anonKey ? { anonKey } : {}),
        ...(accessToken ? { accessToken } : {}),
        ...(bucket ? { bucket } : {}),
        ...(io.fetch ? { fetch: io.fetch } : {}),
      },
      `${folder}/${basename(path)}`,
      bytes,
      contentType,
    );
  };
  for (const field of inputFields) {
    const value = body[field];
    if (Array.isArray(value)) body[field] = await Promise.all(value.map(upload));
    else if (value !== undefined) body[field] = await upload(value);
  }
}

/** Waits with a progress display, downloads every result into --out and prints the paths. */
async function waitAndSave(
  client: MakeIt3DClient,
  job: Parameters<MakeIt3DClient['waitForResult']>[0],
  args: ParsedArgs,
  io: CliIo,
): Promise<number> {
  const progress = new ProgressDisplay(io.stderr);
  const waitOptions: WaitOptions = { onProgress: (update) => progress.update(update) };
  const timeout = option(args, 'timeout');
  if (timeout !== undefined) waitOptions.timeoutMs = seconds('timeout', timeout) * 1000;
  const interval = option(args, 'poll-interval');
  if (interval !== undefined) waitOptions.pollIntervalMs = seconds('poll-interval', interval) * 1000;
  let result: TaskResult;
  try {
    result = await client.waitForResult(job, waitOptions);
    const out = resolve(io.cwd, option(args, 'out') ?? '.');
    await mkdir(out, { recursive: true });
    const saved: string[] = [];
    for (const [index, url] of result.assetUrls.entries()) {
      progress.set(
        `downloading ${index + 1}/${result.assetUrls.length}`,
        (index / result.assetUrls.length) * 100,
      );
      const { bytes, contentType } = await client.download(url);
      const extension = extname(new URL(url).pathname) || EXTENSIONS[contentType.split(';')[0] ?? ''] || '';
      const path = join(out, `${result.jobId}-${index}${extension}`);
      await writeFile(path, bytes);
      saved.push(path);
    }
    progress.set('done', 100);
    progress.stop();
    if (hasFlag(args, 'json')) io.stdout.write(`${JSON.stringify(result.status, null, 2)}\n`);
    for (const path of saved) io.stdout.write(`${path}\n`);
    return 0;
  } finally {
    progress.stop();
  }
}

function seconds(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new UsageError(`--${name} must be a number of seconds`);
  return number;
}
