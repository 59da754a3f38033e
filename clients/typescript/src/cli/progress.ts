import type { ProgressUpdate } from '../client.ts';

/** Where progress is drawn: a terminal gets a redrawn bar, anything else plain lines. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const WIDTH = 30;

/**
 * A progress display. On a TTY: one line redrawn with `\r` (a bar filled to the task's progress,
 * or a moving block while the provider reports none) plus the status and elapsed seconds. Else:
 * a line each time the status or progress changes.
 */
export class ProgressDisplay {
  readonly #out: ProgressOutput;
  readonly #tty: boolean;
  readonly #started = Date.now();
  #label = 'submitting';
  #progress: number | null = null;
  #lastLine = '';
  #frame = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(out: ProgressOutput) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    if (this.#tty) {
      this.#timer = setInterval(() => this.#draw(), 120);
      this.#timer.unref?.();
    }
  }

  /** The task's latest status read. */
  update(update: ProgressUpdate): void {
    this.set(update.status, update.progress);
  }

  /** A step of its own (`uploading`, `downloading 1/2`), with an optional percentage. */
  set(label: string, progress: number | null = null): void {
    this.#label = label;
    this.#progress = progress;
    if (this.#tty) this.#draw();
    else {
      const line = progress === null ? label : `${label} ${Math.round(progress)}%`;
      if (line !== this.#lastLine) this.#out.write(`${line}\n`);
      this.#lastLine = line;
    }
  }

  /** Ends the bar's line, so what is printed next starts on a line of its own. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty && this.#lastLine !== '') this.#out.write('\n');
    this.#lastLine = '';
  }

  #draw(): void {
    const seconds = Math.floor((Date.now() - this.#started) / 1000);
    let bar: string;
    let percent: string;
    if (this.#progress !== null) {
      const filled = Math.round((Math.max(0, Math.min(100, this.#progress)) / 100) * WIDTH);
      bar = '█'.repeat(filled) + '░'.repeat(WIDTH - filled);
      percent = `${String(Math.round(this.#progress)).padStart(3)}%`;
    } else {
      // No progress reported: a block moving back and forth.
      const span = WIDTH - 4;
      const step = this.#frame++ % (2 * span);
      const position = step < span ? step : 2 * span - step;
      bar = `${'░'.repeat(position)}████${'░'.repeat(WIDTH - 4 - position)}`;
      percent = '   …';
    }
    const line = `[${bar}] ${percent} ${this.#label} ${seconds}s`;
    const columns = this.#out.columns || 80;
    this.#out.write(`\r${line.slice(0, Math.max(10, columns - 1))}\u001b[K`);
    this.#lastLine = line;
  }
}
