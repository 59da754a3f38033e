import type { SandboxContext } from './sandbox.ts';

/**
 * Faults on a simulator's result-file downloads (Recraft image URLs, BFL sample URLs, Tripo model
 * URLs), for tests of the BFF's download retries. They are scripted with a fault `outcome` on the
 * call that makes the result (Recraft's POST, BFL's and Tripo's create: the next task created),
 * because the download routes take no faults of their own:
 *
 * - `result:<status>x<count>`, e.g. `result:503x2`: the first <count> downloads answer that HTTP
 *   status (429 and 503 with `Retry-After: 1`), later ones the file;
 * - `result:redirect`: the first download answers 302 to the same file on this simulator;
 * - `result:redirect-http`: the first download answers 302 to a plain-http URL on another host
 *   (which a client must refuse to follow);
 * - `result:stall[x<count>]`: the first <count> downloads get no answer until the client goes away;
 * - a suffix `@<index>` limits the fault to one result of the answer (0-based: Recraft's `n`
 *   images), e.g. `result:503x2@1`. Without it every result of the answer has its own <count>.
 */

export type ResultFaultKind = 'status' | 'redirect' | 'redirect-http' | 'stall';

export interface ResultFault {
  kind: ResultFaultKind;
  /** The HTTP status of a `status` fault. */
  status?: number;
  /** Downloads still to be answered with the fault. */
  remaining: number;
  /** Only the result with this index, when set. */
  index?: number;
}

const PATTERN = /^result:(\d{3}|redirect|redirect-http|stall)(?:x(\d+))?(?:@(\d+))?$/;

/** The result fault an `outcome` asks for, or undefined when it is not one. */
export function parseResultFault(outcome: string | undefined): ResultFault | undefined {
  const match = outcome === undefined ? null : PATTERN.exec(outcome);
  if (!match) return undefined;
  const [, what = '', count, index] = match;
  const numeric = /^\d{3}$/.test(what);
  const fault: ResultFault = {
    kind: numeric ? 'status' : (what as ResultFaultKind),
    remaining: count === undefined ? 1 : Math.max(1, Number(count)),
  };
  if (numeric) fault.status = Number(what);
  if (index !== undefined) fault.index = Number(index);
  return fault;
}

/** The fault one result file carries: its own copy (own count), or none when `index` is not the one. */
export function faultForResult(fault: ResultFault | undefined, index: number): ResultFault | undefined {
  if (!fault || (fault.index !== undefined && fault.index !== index)) return undefined;
  return { ...fault };
}

/**
 * The answer to one download of a file carrying `fault`, using up one of its downloads; undefined
 * when the fault is spent (serve the file).
 */
export async function faultedDownload(
  fault: ResultFault | undefined,
  request: Request,
  context: SandboxContext,
): Promise<Response | undefined> {
  if (!fault || fault.remaining <= 0 || (request.method !== 'GET' && request.method !== 'HEAD')) {
    return undefined;
  }
  fault.remaining -= 1;
  const here = new URL(request.url);
  switch (fault.kind) {
    case 'stall':
      return context.hang(request);
    case 'redirect': {
      here.searchParams.set('redirected', '1');
      return new Response(null, { status: 302, headers: { location: here.href } });
    }
    case 'redirect-http':
      return new Response(null, {
        status: 302,
        headers: { location: `http://results.example.invalid${here.pathname}` },
      });
    case 'status': {
      const status = fault.status ?? 503;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (status === 429 || status === 503) headers['retry-after'] = '1';
      return new Response(JSON.stringify({ message: `Sandbox fault: HTTP ${status}` }), { status, headers });
    }
  }
}
