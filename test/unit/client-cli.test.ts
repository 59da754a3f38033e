import { describe, expect, it } from 'vitest';
import { buildRequest, operationHelp, parseArgs, UsageError } from '../../clients/typescript/src/cli/args.ts';
import { ProgressDisplay } from '../../clients/typescript/src/cli/progress.ts';

/** The CLI's flag parsing and help, from the generated request data. Runs against the stack: test/e2e/cli.test.ts. */

describe('makeit3d flags', () => {
  it('types each flag by its field schema', () => {
    const args = parseArgs([
      'image-to-model',
      '--provider',
      'tripo',
      '--task-id',
      't1',
      '--image',
      'front.png',
      '--image',
      'null',
      '--image=https://x.test/back.png',
      '--texture',
      '--no-pbr',
      '--face_limit',
      '10000',
      '--auto-size',
      'false',
    ]);
    const plan = buildRequest('image-to-model', args);
    expect(plan.provider).toBe('tripo');
    expect(plan.body).toEqual({
      provider: 'tripo',
      task_id: 't1',
      input_image_asset_urls: ['front.png', null, 'https://x.test/back.png'],
      texture: true,
      pbr: false,
      face_limit: 10000,
      auto_size: false,
    });
    expect(plan.spec.inputFields).toEqual(['input_image_asset_urls']);
  });

  it('merges a --body file under the flags and applies default providers', () => {
    const args = parseArgs(['search-and-recolor', '--prompt', 'red', '--grow-mask', '5']);
    const plan = buildRequest('search-and-recolor', args, {
      task_id: 'x',
      prompt: 'blue',
      select_prompt: 'car',
    });
    expect(plan.provider).toBe('stability');
    expect(plan.body).toEqual({ task_id: 'x', prompt: 'red', select_prompt: 'car', grow_mask: 5 });
  });

  it('refuses unknown flags, bad numbers and unknown providers with a sentence', () => {
    expect(() =>
      buildRequest('text-to-image', parseArgs(['text-to-image', '--provider', 'openai', '--seed', '1'])),
    ).toThrow('Unknown option --seed for text-to-image with provider openai');
    expect(() =>
      buildRequest('text-to-image', parseArgs(['text-to-image', '--provider', 'openai', '--n', 'two'])),
    ).toThrow("--n must be a number, not 'two'");
    expect(() => buildRequest('text-to-image', parseArgs(['text-to-image', '--provider', 'flux']))).toThrow(
      "Unsupported provider 'flux' for text-to-image. Supported providers: openai, stability, recraft",
    );
    expect(() => buildRequest('text-to-image', parseArgs(['text-to-image']))).toThrow(UsageError);
    expect(() => parseArgs(['text-to-image', '--prompt'])).toThrow('--prompt needs a value');
  });

  it('lists every field of the operation in --help', () => {
    const help = operationHelp('text-to-image', 'recraft');
    expect(help).toContain('--provider <openai|stability|recraft>');
    expect(help).toMatch(/--prompt <string> +required; 1-10000 characters/);
    expect(help).toContain('--response-format <url|b64_json>');
    expect(help).not.toContain('--quality');
    const all = operationHelp('image-to-image');
    for (const provider of ['openai', 'stability', 'recraft', 'flux']) {
      expect(all).toContain(`Fields of image-to-image with --provider ${provider}:`);
    }
    expect(all).toContain('--image (= --input-image-asset-url)');
  });
});

describe('progress display', () => {
  it('redraws one line with carriage returns on a TTY, and prints lines otherwise', () => {
    const frames: string[] = [];
    const tty = new ProgressDisplay({ isTTY: true, columns: 100, write: (text) => frames.push(text) });
    tty.set('processing', 40);
    tty.set('processing', null);
    tty.stop();
    expect(frames[0]).toMatch(/^\r\[█{12}░{18}\] {2}40% processing 0s/);
    expect(frames[1]).toMatch(/^\r\[░*████░*\] +… processing/);
    expect(frames[frames.length - 1]).toBe('\n');

    const lines: string[] = [];
    const plain = new ProgressDisplay({ write: (text) => lines.push(text) });
    plain.set('pending');
    plain.set('processing', 40);
    plain.set('processing', 40);
    plain.set('complete', 100);
    plain.stop();
    expect(lines).toEqual(['pending\n', 'processing 40%\n', 'complete 100%\n']);
  });
});
