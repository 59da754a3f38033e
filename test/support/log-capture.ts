/**
 * Everything this process writes to stdout and stderr while a capture is on: the log lines of the
 * handlers (Powertools writes through a Console bound to process.stdout/stderr) and the EMF
 * metric lines. Writes still reach the terminal when `echo` is set; otherwise they are held.
 */
export interface LogCapture {
  /** Every complete line written so far, in order (stdout and stderr interleaved). */
  lines(): string[];
  /** The lines that parse as JSON objects. */
  records(): Record<string, unknown>[];
  /** Restores the streams. */
  stop(): void;
}

export function captureOutput(options: { echo?: boolean } = {}): LogCapture {
  const captured: string[] = [];
  let partial = '';
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((stream) => stream.write);
  streams.forEach((stream, index) => {
    const original = originals[index] as typeof stream.write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      captured.push(...parts.filter((line) => line !== ''));
      if (options.echo) return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
      const callback = rest.find((argument) => typeof argument === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  });
  return {
    lines: () => [...captured, ...(partial ? [partial] : [])],
    records() {
      const records: Record<string, unknown>[] = [];
      for (const line of this.lines()) {
        try {
          const parsed = JSON.parse(line) as unknown;
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
            records.push(parsed as Record<string, unknown>);
          }
        } catch {
          // Not JSON: kept in lines() for the assertions that read raw text.
        }
      }
      return records;
    },
    stop() {
      streams.forEach((stream, index) => {
        stream.write = originals[index] as typeof stream.write;
      });
    },
  };
}
