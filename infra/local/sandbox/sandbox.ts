/**
 * The contract every provider simulator follows. A simulator speaks one provider's HTTP API
 * (written from the provider's documentation, never from our adapter code) and is mounted by
 * the local stack under `/__sandbox/<provider>/…`.
 */

/** A scripted failure, set with `POST /__sandbox/<provider>/faults` (docs/api.md, Local stack). */
export interface Fault {
  /** Answer with this HTTP status and the provider's own error body. */
  status?: number;
  /** Never answer (until the client gives up and closes the connection). */
  timeout?: boolean;
  /** Answer the way the provider answers a content-policy refusal. */
  moderated?: boolean;
  /**
   * A provider-specific outcome for asynchronous providers, e.g. BFL `Error`, `Task not found`,
   * `Request Moderated`, or Tripo `banned`; each simulator documents the values it knows.
   */
  outcome?: string;
  /** How many requests the fault applies to; default 1. */
  times: number;
}

/** One request as the simulator received it, kept so tests can assert the exact wire contract. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body, or the text fields of a multipart body. */
  fields: Record<string, unknown>;
  /** Files of a multipart body: field name → { filename, type, size }. */
  files: Record<string, { filename: string; type: string; size: number }[]>;
  contentType: string;
}

export interface SandboxContext {
  /** Absolute URL of this simulator's root, e.g. `http://localhost:8000/__sandbox/flux`. */
  readonly baseUrl: string;
  /** Removes and returns the next scripted fault, if any. */
  takeFault(): Fault | undefined;
  /** Stores a received request for `GET /__sandbox/<provider>/requests`. */
  record(request: RecordedRequest): void;
  /**
   * Never resolves; rejects when the client disconnects (a `timeout` fault awaits this). The
   * Request is held until then, so its abort link survives garbage collection (see `hang` below).
   */
  hang(request: Request): Promise<never>;
}

export interface SandboxSimulator {
  readonly provider: string;
  /**
   * Serves one request. `path` is the part after `/__sandbox/<provider>` (e.g. `/v1/images/edits`),
   * and `request.url` keeps its query string.
   */
  handle(request: Request, path: string, context: SandboxContext): Promise<Response>;
}

/** Faults and recorded requests for one simulator. */
export class SandboxState {
  private faults: Fault[] = [];
  readonly requests: RecordedRequest[] = [];

  addFault(fault: Fault): void {
    this.faults.push({ ...fault, times: Math.max(1, fault.times) });
  }

  clear(): void {
    this.faults = [];
    this.requests.length = 0;
  }

  takeFault(): Fault | undefined {
    const fault = this.faults[0];
    if (!fault) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) this.faults.shift();
    return fault;
  }

  record(request: RecordedRequest): void {
    this.requests.push(request);
    if (this.requests.length > 500) this.requests.shift();
  }
}

/**
 * Requests stuck on a `timeout` fault, each held until its hang settles. undici links a Request's
 * signal to the signal it was created with only through a weak reference (the caller's signal
 * keeps a listener holding a WeakRef to the Request's own AbortController, and the Request holds
 * that controller), so when nothing else references the Request, garbage collection can drop the
 * link mid-hang and the client's abort never arrives. Holding the Request (not just its signal,
 * which does not reference its controller) keeps "hang until the client gives up" true.
 */
const hanging = new Set<Request>();

function hangUntilAbort(target: Request, maxHangMs: number): Promise<never> {
  const signal = target.signal;
  // Already gone: no listener, no timer, nothing held.
  if (signal.aborted) return Promise.reject(new Error('client disconnected'));
  return new Promise<never>((_resolve, reject) => {
    const settle = (error: Error): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      hanging.delete(target);
      reject(error);
    };
    const onAbort = (): void => settle(new Error('client disconnected'));
    const timer = setTimeout(() => settle(new Error('sandbox hang ended')), maxHangMs);
    timer.unref();
    hanging.add(target);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The context a simulator gets for one request: faults and records go to `state`; a `timeout`
 * fault hangs until the client disconnects (or `maxHangMs` passes, so nothing leaks forever).
 */
export function sandboxContext(
  state: SandboxState,
  baseUrl: string,
  maxHangMs = 15 * 60 * 1000,
): SandboxContext {
  return {
    baseUrl,
    takeFault: () => state.takeFault(),
    record: (request) => state.record(request),
    hang: (target) => hangUntilAbort(target, maxHangMs),
  };
}

/** Reads a JSON or multipart body into a RecordedRequest plus the raw files. */
export async function readRequest(
  request: Request,
  path: string,
): Promise<{ recorded: RecordedRequest; files: Map<string, File[]>; jsonError?: string }> {
  const contentType = request.headers.get('content-type') ?? '';
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const fields: Record<string, unknown> = {};
  const files = new Map<string, File[]>();
  const fileFacts: RecordedRequest['files'] = {};
  let jsonError: string | undefined;
  if (contentType.startsWith('multipart/form-data')) {
    const form = await request.formData();
    for (const [name, value] of form.entries()) {
      if (typeof value === 'string') {
        fields[name] = value;
      } else {
        const list = files.get(name) ?? [];
        list.push(value);
        files.set(name, list);
        const facts = fileFacts[name] ?? [];
        facts.push({ filename: value.name, type: value.type, size: value.size });
        fileFacts[name] = facts;
      }
    }
  } else if (request.method !== 'GET' && request.method !== 'HEAD') {
    const text = await request.text();
    if (text.length > 0) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(fields, parsed);
        else jsonError = 'body must be a JSON object';
      } catch {
        jsonError = 'body is not valid JSON';
      }
    }
  }
  const recorded: RecordedRequest = {
    method: request.method,
    path,
    headers,
    fields,
    files: fileFacts,
    contentType,
  };
  return jsonError === undefined ? { recorded, files } : { recorded, files, jsonError };
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}
