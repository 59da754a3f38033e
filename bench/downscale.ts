/**
 * Downscale benchmark: a 12-megapixel photo-like JPEG squeezed to at most 0.5 MB, by our
 * downscaleImage and by Debian's Pillow running the same search, each in a fresh process, in the
 * same run. Prints the job's time (in the child), the child process's time, CPU time, peak RSS and
 * the output of each, and ours/Pillow ratios.
 *
 *   npm run bench                 # 3 alternating runs of each, medians
 *   npm run bench -- --runs 5
 *
 * It also runs the same job end to end through the local stack's HTTP API (submit, then poll the
 * status every 50 ms until complete; the ProcessImage step runs on the stack's image worker thread),
 * alternating with the other two, and says where the time beyond the job goes.
 *
 * Targets (the issue): at most 1x Pillow's time for the function, 1.3x end to end, 256 MiB peak RSS.
 *
 * The Pillow side mirrors downscale.ts's strategy constant for constant: quality 60–95, binary
 * search on quality at full size, then the largest long side at quality 60 (log-log interpolation
 * with bisection fallback, 1% resolution), then the highest quality at that size (galloping up
 * from 60, then bisection); integer box reduction then an antialiased bilinear filter
 * (Image.reduce + BILINEAR), baseline JPEG with 4:2:0 chroma, as our libjpeg-turbo encode. Where the two differ is
 * how a probe is measured: Pillow encodes every candidate in full (its natural form: a native full
 * encode costs little), ours estimates most from a one-in-eight row sample and encodes the final
 * candidate in full. Both return a real encode that fits.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeImage, readImageSize } from '../functions/core/images/codecs.ts';
import { downscaleImage } from '../functions/core/images/downscale.ts';
import { makePhotoBitmap } from '../test/support/image-fixtures.ts';

const MAX_BYTES = Math.round(0.5 * 1024 * 1024);
const WIDTH = 4000;
const HEIGHT = 3000;
const PYTHON = '/usr/bin/python3';
const TARGET_TIME_RATIO = 1;
const TARGET_END_TO_END_RATIO = 1.3;
const TARGET_PEAK_MIB = 256;

interface JobResult {
  /** The job alone, measured inside the child: decode, search, final encode. */
  ms: number;
  /**
   * The whole child process, measured by the parent: adds interpreter start-up and module loading
   * (for ours, tsx compiling TypeScript, which a Lambda bundle does not do).
   */
  processMs: number;
  /** CPU time (user + system) of the job, less sensitive than wall time to other load on the machine. */
  cpuMs: number;
  /** Peak resident set of the whole child process. */
  peakMiB: number;
  bytes: number;
  width: number;
  height: number;
  quality: number | null;
}

// ---- child mode: run one job and print its result as JSON ----

async function runChild(inputPath: string, outputPath: string): Promise<void> {
  const input = readFileSync(inputPath);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await downscaleImage(input, {
    maxBytes: MAX_BYTES,
    aspectRatioMode: 'original',
    outputFormat: 'original',
  });
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  writeFileSync(outputPath, result.bytes);
  const report: Omit<JobResult, 'processMs'> = {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    // maxRSS is in KiB on Linux.
    peakMiB: process.resourceUsage().maxRSS / 1024,
    bytes: result.bytes.length,
    width: result.facts.final_width,
    height: result.facts.final_height,
    quality: result.facts.jpeg_quality,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// ---- the same job in Pillow ----

const PILLOW_JOB = `
import io, json, math, resource, sys, time
from PIL import Image

Q_MIN, Q_MAX, RESOLUTION = 60, 95, 0.01
input_path, output_path, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(input_path, 'rb').read()
cpu0, t0 = time.process_time(), time.perf_counter()

image = Image.open(io.BytesIO(data))
image.load()
image = image.convert('RGB')
W, H = image.size
LONG = max(W, H)
reductions = {}

def dimensions(long_side):
    if long_side == LONG:
        return W, H
    scale = long_side / LONG
    return (long_side if W >= H else max(1, round(W * scale)),
            long_side if H > W else max(1, round(H * scale)))

def render(long_side):
    w, h = dimensions(long_side)
    if (w, h) == (W, H):
        return image
    factor = int(min(W / w, H / h))
    source = image
    if factor >= 2:
        if factor not in reductions:
            reductions[factor] = image.reduce(factor)
        source = reductions[factor]
    return source.resize((w, h), Image.Resampling.BILINEAR)

fitting = {}
def probe(long_side, quality):
    buffer = io.BytesIO()
    render(long_side).save(buffer, 'JPEG', quality=quality)
    size = buffer.tell()
    if size <= max_bytes:
        fitting[(long_side, quality)] = buffer.getvalue()
    return size <= max_bytes, size

def highest_quality(long_side, low, high, gallop):
    step = 1
    while gallop and low + step < high:
        if not probe(long_side, low + step)[0]:
            high = low + step
            break
        low += step
        step *= 2
    while high - low > 1:
        middle = (low + high) // 2
        if probe(long_side, middle)[0]:
            low = middle
        else:
            high = middle
    return low

def largest_long_side(failing, failing_bytes, quality):
    resolution = max(1, round(LONG * RESOLUTION))
    low, high = None, (failing, failing_bytes)
    bisect_next = False
    while True:
        if low and high[0] - low[0] <= resolution:
            return low[0]
        if not low and high[0] <= 1:
            return None
        if not low:
            guess = high[0] * math.sqrt(max_bytes / high[1])
        else:
            slope = math.log(high[1] / low[1]) / math.log(high[0] / low[0])
            guess = (math.sqrt(low[0] * high[0]) if bisect_next or not slope > 0
                     else low[0] * (max_bytes / low[1]) ** (1 / slope))
        lowest = low[0] + resolution if low else 1
        highest = max(lowest, high[0] - resolution)
        candidate = min(highest, max(lowest, math.floor(guess)))
        bracket_before = high[0] - (low[0] if low else 0)
        fits, size = probe(candidate, quality)
        if fits:
            low = (candidate, size)
        else:
            high = (candidate, size)
        bisect_next = (not bisect_next) and high[0] - (low[0] if low else 0) > bracket_before / 2

fits, size = probe(LONG, Q_MIN)
if fits:
    if probe(LONG, Q_MAX)[0]:
        chosen = (LONG, Q_MAX)
    else:
        chosen = (LONG, highest_quality(LONG, Q_MIN, Q_MAX, False))
else:
    long_side = largest_long_side(LONG, size, Q_MIN)
    chosen = (long_side, highest_quality(long_side, Q_MIN, Q_MAX + 1, True))

# Every chosen candidate was probed and fitted, so its encode is at hand.
long_side, quality = chosen
encoded = fitting[chosen]
ms = (time.perf_counter() - t0) * 1000
cpu_ms = (time.process_time() - cpu0) * 1000
open(output_path, 'wb').write(encoded)
w, h = dimensions(long_side)
print(json.dumps({'ms': ms, 'cpuMs': cpu_ms,
                  'peakMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  'bytes': len(encoded), 'width': w, 'height': h, 'quality': quality}))
`;

function hasPillow(): boolean {
  return spawnSync(PYTHON, ['-c', 'import PIL'], { stdio: 'ignore' }).status === 0;
}

/** Debian's Pillow, installed if missing (the system python; a pyenv python3 would not see it). */
function ensurePillow(): void {
  if (hasPillow()) return;
  console.log('Pillow is missing: installing python3-pil with apt-get…');
  const install = () =>
    spawnSync('apt-get', ['install', '-y', 'python3-pil'], { stdio: 'inherit' }).status === 0;
  if (!install()) {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    if (!install()) throw new Error('apt-get install -y python3-pil failed');
  }
  if (!hasPillow()) throw new Error(`${PYTHON} still cannot import PIL after installing python3-pil`);
}

// ---- parent mode ----

/** Runs a child to completion and reads the JSON result it prints last. */
function runJob(name: string, command: string, args: string[]): JobResult {
  const started = performance.now();
  const output = execFileSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  const processMs = performance.now() - started;
  const line = output.trim().split('\n').pop() ?? '';
  try {
    return { ...(JSON.parse(line) as Omit<JobResult, 'processMs'>), processMs };
  } catch {
    throw new Error(`${name} printed no result:\n${output}`);
  }
}

function runOurs(inputPath: string, outputPath: string): JobResult {
  const script = fileURLToPath(import.meta.url);
  return runJob('downscaleImage', process.execPath, [
    '--import',
    'tsx',
    script,
    '--child',
    inputPath,
    outputPath,
  ]);
}

function runPillow(inputPath: string, outputPath: string): JobResult {
  return runJob('Pillow', PYTHON, ['-c', PILLOW_JOB, inputPath, outputPath, String(MAX_BYTES)]);
}

// ---- end to end: the same job through the local stack's HTTP API ----

/**
 * How often the bench client polls the status route. Each poll is a request and a task-row read on
 * the stack's main thread, competing for the 2 cores with the image worker: polling every 5 ms made
 * the end-to-end median 14% slower than every 50 ms (2026-12-02), in spite of the finer grain.
 */
const POLL_MS = 50;

interface EndToEndResult {
  /** POST /generation/downscale until GET /tasks/{id}/status says complete, seen by the client. */
  ms: number;
  /** Of which the submit request (validation, task row, execution start). */
  submitMs: number;
  bytes: number;
  width: number;
  height: number;
  quality: number | null;
}

type BenchStack = Awaited<ReturnType<typeof import('../test/support/local-stack.ts').startTestStack>>;

async function runEndToEnd(stack: BenchStack, inputUrl: string, taskId: string): Promise<EndToEndResult> {
  const started = performance.now();
  const response = await stack.call('/generation/downscale', {
    body: {
      task_id: taskId,
      input_image_asset_url: inputUrl,
      max_size_mb: MAX_BYTES / (1024 * 1024),
      aspect_ratio_mode: 'original',
      output_format: 'original',
    },
  });
  const submitMs = performance.now() - started;
  if (response.status !== 202)
    throw new Error(`submit answered ${response.status}: ${await response.text()}`);
  const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };
  let status: Record<string, unknown>;
  while (true) {
    status = (await (await stack.call(`/tasks/${jobId}/status`)).json()) as Record<string, unknown>;
    if (status.status === 'complete' || status.status === 'failed') break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const ms = performance.now() - started;
  if (status.status !== 'complete') throw new Error(`the downscale task failed: ${JSON.stringify(status)}`);
  const output = Buffer.from(await (await fetch(String(status.asset_url))).arrayBuffer());
  const size = readImageSize(output, 'jpeg');
  const [row] = (await (await fetch(`${stack.url}/rest/v1/concept_images?job_id=eq.${jobId}`)).json()) as {
    metadata: { facts: { jpeg_quality: number | null } };
  }[];
  return {
    ms,
    submitMs,
    bytes: output.length,
    width: size?.width ?? 0,
    height: size?.height ?? 0,
    quality: row?.metadata.facts.jpeg_quality ?? null,
  };
}

/**
 * What the stack's storage costs a task, timed from the client: downloading the input (as the
 * ProcessImage step does) and uploading an output of the limit's size (as it does with the result).
 */
async function timeStorage(
  stack: BenchStack,
  inputUrl: string,
): Promise<{ downloadMs: number; uploadMs: number }> {
  let started = performance.now();
  await (await fetch(inputUrl)).arrayBuffer();
  const downloadMs = performance.now() - started;
  started = performance.now();
  await stack.upload('bench/upload-probe.jpg', Buffer.alloc(MAX_BYTES, 1), 'image/jpeg');
  return { downloadMs, uploadMs: performance.now() - started };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function summarise(runs: JobResult[]): JobResult {
  const last = runs[runs.length - 1];
  if (!last) throw new Error('no runs');
  return {
    ...last,
    ms: median(runs.map((run) => run.ms)),
    processMs: median(runs.map((run) => run.processMs)),
    cpuMs: median(runs.map((run) => run.cpuMs)),
    peakMiB: Math.max(...runs.map((run) => run.peakMiB)),
  };
}

async function main(): Promise<void> {
  const runsFlag = process.argv.indexOf('--runs');
  const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 3;
  ensurePillow();

  const directory = path.join(tmpdir(), 'makeit3d-bench');
  mkdirSync(directory, { recursive: true });
  const inputPath = path.join(directory, 'photo-12mp.jpg');
  const photo = await encodeImage(makePhotoBitmap(WIDTH, HEIGHT, { seed: 42 }), 'jpeg', { quality: 92 });
  writeFileSync(inputPath, photo);
  console.log(
    `Input: ${WIDTH}x${HEIGHT} photo-like JPEG, ${(photo.length / 1024 / 1024).toFixed(2)} MiB; limit ${MAX_BYTES} bytes (0.5 MB); ${runs} runs each, alternating`,
  );

  // The local stack, as `npm start` runs it (Waits at 0, logs off), in this process.
  const { startTestStack } = await import('../test/support/local-stack.ts');
  const stack = await startTestStack();
  const inputUrl = await stack.upload('uploads/bench/photo-12mp.jpg', photo, 'image/jpeg');
  // The first task also starts the image worker thread (tsx, the handler's modules, the WASM
  // codecs): a cold Lambda. It is reported apart; the runs below are warm.
  const firstTask = await runEndToEnd(stack, inputUrl, 'bench-first');

  const ours: JobResult[] = [];
  const pillow: JobResult[] = [];
  const endToEnd: EndToEndResult[] = [];
  const storage: { downloadMs: number; uploadMs: number }[] = [];
  for (let run = 0; run < runs; run++) {
    ours.push(runOurs(inputPath, path.join(directory, 'ours.jpg')));
    pillow.push(runPillow(inputPath, path.join(directory, 'pillow.jpg')));
    endToEnd.push(await runEndToEnd(stack, inputUrl, `bench-${run}`));
    storage.push(await timeStorage(stack, inputUrl));
  }
  await stack.stop();
  const a = summarise(ours);
  const b = summarise(pillow);
  const e = {
    ...(endToEnd[endToEnd.length - 1] as EndToEndResult),
    ms: median(endToEnd.map((run) => run.ms)),
    submitMs: median(endToEnd.map((run) => run.submitMs)),
  };
  for (const [name, result] of [
    ['ours', a],
    ['Pillow', b],
    ['end to end', e],
  ] as const) {
    if (result.bytes > MAX_BYTES)
      throw new Error(`${name} produced ${result.bytes} bytes, over the ${MAX_BYTES} limit`);
  }

  const row = (cells: string[]) =>
    `${cells[0]?.padEnd(16)}${cells
      .slice(1)
      .map((cell) => cell.padStart(14))
      .join('')}`;
  const format = (result: JobResult) => [
    result.ms.toFixed(0),
    result.processMs.toFixed(0),
    result.cpuMs.toFixed(0),
    result.peakMiB.toFixed(0),
    String(result.bytes),
    `${result.width}x${result.height}`,
    String(result.quality ?? '-'),
  ];
  console.log('');
  console.log(row(['', 'time ms', 'process ms', 'cpu ms', 'peak MiB', 'bytes', 'dims', 'quality']));
  console.log(row(['downscaleImage', ...format(a)]));
  console.log(row(['Pillow', ...format(b)]));
  console.log(
    row([
      'ours / Pillow',
      (a.ms / b.ms).toFixed(2),
      (a.processMs / b.processMs).toFixed(2),
      (a.cpuMs / b.cpuMs).toFixed(2),
      (a.peakMiB / b.peakMiB).toFixed(2),
      (a.bytes / b.bytes).toFixed(3),
      ((a.width * a.height) / (b.width * b.height)).toFixed(3),
      '',
    ]),
  );
  console.log(
    row([
      'end to end',
      e.ms.toFixed(0),
      '',
      '',
      '',
      String(e.bytes),
      `${e.width}x${e.height}`,
      String(e.quality ?? '-'),
    ]),
  );
  console.log(row(['e2e / Pillow', (e.ms / b.ms).toFixed(2), '', '', '', '', '', '']));
  console.log('');
  const storageMedian = {
    download: median(storage.map((run) => run.downloadMs)),
    upload: median(storage.map((run) => run.uploadMs)),
  };
  console.log(
    `end to end, where the time goes beyond the job (medians): submit ${e.submitMs.toFixed(0)} ms; ` +
      `input download ${storageMedian.download.toFixed(0)} ms and a ${MAX_BYTES}-byte upload ` +
      `${storageMedian.upload.toFixed(0)} ms (local storage, timed by the client); status polled every ` +
      `${POLL_MS} ms; everything else (state transitions, task row writes, worker messages) is ` +
      `${(e.ms - e.submitMs - a.ms - storageMedian.download - storageMedian.upload).toFixed(0)} ms ` +
      `(e2e minus those minus the job's time in a fresh process). First task, starting the worker: ${firstTask.ms.toFixed(0)} ms.`,
  );
  console.log('');
  const timeOk = a.ms <= TARGET_TIME_RATIO * b.ms;
  const endToEndOk = e.ms <= TARGET_END_TO_END_RATIO * b.ms;
  const memoryOk = a.peakMiB <= TARGET_PEAK_MIB;
  console.log(
    `time: ${(a.ms / b.ms).toFixed(2)}x Pillow (target <= ${TARGET_TIME_RATIO}x): ${timeOk ? 'met' : 'MISSED'}`,
  );
  console.log(
    `end to end: ${(e.ms / b.ms).toFixed(2)}x Pillow's job (target <= ${TARGET_END_TO_END_RATIO}x): ${endToEndOk ? 'met' : 'MISSED'}`,
  );
  console.log(
    `peak: ${a.peakMiB.toFixed(0)} MiB (target <= ${TARGET_PEAK_MIB} MiB): ${memoryOk ? 'met' : 'MISSED'}`,
  );
}

if (process.argv[2] === '--child') {
  const [inputPath, outputPath] = process.argv.slice(3);
  if (!inputPath || !outputPath) throw new Error('usage: downscale.ts --child INPUT OUTPUT');
  await runChild(inputPath, outputPath);
} else {
  await main();
}
