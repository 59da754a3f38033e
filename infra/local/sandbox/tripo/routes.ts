import { randomUUID } from 'node:crypto';
import { readBody } from '../image-input.ts';
import { parseResultFault } from '../result-faults.ts';
import type { RecordedRequest, SandboxContext, SandboxSimulator } from '../sandbox.ts';
import { faultResponse, success, TripoFailure, toOutcome, tripoError } from './errors.ts';
import { download, upload } from './files.ts';
import { generationDraft } from './generation.ts';
import { API, account, credits, FILES_PREFIX, logCall, queuedEffects, tasks } from './state.ts';
import { createTask, listTasks, pollTask, usage } from './tasks.ts';
import { textureDraft } from './texture.ts';

/** Routing, authentication, faults and the envelope; the behaviour is documented in ../tripo.ts. */

type RouteName =
  | 'text-to-model'
  | 'image-to-model'
  | 'multiview-to-model'
  | 'texture'
  | 'files'
  | 'task'
  | 'list'
  | 'balance'
  | 'usage';

interface Route {
  name: RouteName;
  method: 'GET' | 'POST';
  template: string;
  matches: (path: string) => boolean;
}

const exact = (name: RouteName, method: 'GET' | 'POST', path: string): Route => ({
  name,
  method,
  template: `${API}${path}`,
  matches: (candidate) => candidate === `${API}${path}`,
});

const ROUTES: readonly Route[] = [
  exact('text-to-model', 'POST', '/generation/text-to-model'),
  exact('image-to-model', 'POST', '/generation/image-to-model'),
  exact('multiview-to-model', 'POST', '/generation/multiview-to-model'),
  exact('texture', 'POST', '/models/texture'),
  exact('files', 'POST', '/files'),
  exact('list', 'POST', '/tasks/list'),
  {
    name: 'task',
    method: 'GET',
    template: `${API}/tasks/{task_id}`,
    matches: (path) => /^\/v3\/tasks\/[^/]+$/.test(path) && path !== `${API}/tasks/list`,
  },
  exact('balance', 'GET', '/account/balance'),
  exact('usage', 'GET', '/account/usage'),
];

/** Documented v3 endpoints the sandbox answers like unknown routes (404/4001), with why. */
const NOT_SIMULATED: Record<string, string> = {
  [`${API}/models/refine`]: 'Tripo has retired refine: there is no refine endpoint in v3.',
  [`${API}/models/stylize`]: 'Tripo has retired stylize: there is no stylize endpoint in v3.',
};

/**
 * Which Tripo endpoint a request was for, e.g. `POST /v3/generation/text-to-model`,
 * `GET /v3/tasks/{task_id}` or `GET /v3/__files/{file}`; other paths come back as method and
 * path (`POST /v2/openapi/task`). Works on the local stack's recorded requests too.
 */
export function tripoEndpointOf(method: string, path: string): string {
  if (path.startsWith(FILES_PREFIX)) return `${method} ${FILES_PREFIX}{file}`;
  const route = ROUTES.find((candidate) => candidate.matches(path));
  return `${method} ${route ? route.template : path}`;
}

/** The endpoints of recorded requests (e.g. `SandboxState.requests`), in order. */
export function tripoEndpoints(requests: readonly Pick<RecordedRequest, 'method' | 'path'>[]): string[] {
  return requests.map((request) => tripoEndpointOf(request.method, request.path));
}

const PLACEHOLDER_KEY = 'sandbox';

/** `Authorization: Bearer tsk_…` (or the local stack's placeholder `sandbox`); undefined when invalid. */
function parseKey(request: Request): string | undefined {
  const key = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  if (key === undefined) return undefined;
  return /^tsk_[A-Za-z0-9_-]+$/.test(key) || key === PLACEHOLDER_KEY ? key : undefined;
}

/** What a host without the v3 API answers: the retired v2 host (and any other path) is a bare 404. */
function retiredHost(): Response {
  return new Response(
    '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
    { status: 404, headers: { 'content-type': 'text/html' } },
  );
}

/** The task id of `/v3/tasks/{task_id}`; a malformed escape names no task. */
function taskIdOf(path: string): string {
  try {
    return decodeURIComponent(path.slice(`${API}/tasks/`.length));
  } catch {
    return '';
  }
}

type ReadBody = Awaited<ReturnType<typeof readBody>>;

/** A create's body must be a JSON object sent as application/json (1003 otherwise). */
function jsonFields(body: ReadBody, raw: Buffer | undefined): Record<string, unknown> {
  if ((raw?.length ?? 0) === 0) throw new TripoFailure(1003, 'The request body must be a JSON object');
  if (!/^application\/json\s*(;|$)/i.test(body.recorded.contentType)) {
    throw new TripoFailure(1003, 'Content-Type must be application/json', 415);
  }
  if (body.jsonError !== undefined || body.malformed !== undefined) {
    throw new TripoFailure(
      1003,
      `The request body must be a JSON object (${body.jsonError ?? body.malformed})`,
    );
  }
  return body.recorded.fields;
}

async function dispatch(
  route: RouteName,
  request: Request,
  path: string,
  body: ReadBody,
  raw: Buffer | undefined,
  key: string,
  context: SandboxContext,
): Promise<Response> {
  const signal = request.signal;
  switch (route) {
    case 'text-to-model':
      return success(createTask(await generationDraft('text', jsonFields(body, raw), key, signal), key));
    case 'image-to-model':
      return success(createTask(await generationDraft('image', jsonFields(body, raw), key, signal), key));
    case 'multiview-to-model':
      return success(createTask(await generationDraft('multiview', jsonFields(body, raw), key, signal), key));
    case 'texture':
      return success(createTask(await textureDraft(jsonFields(body, raw), key, signal), key));
    case 'files':
      if (body.malformed !== undefined)
        throw new TripoFailure(1003, `Malformed multipart body: ${body.malformed}`);
      return success(await upload(body.files, body.recorded.fields, body.recorded.contentType, key));
    case 'task': {
      const task = tasks.get(taskIdOf(path));
      if (!task || task.key !== key) throw new TripoFailure(2001);
      return success(await pollTask(task, context));
    }
    case 'list':
      return success(await listTasks(jsonFields(body, raw), key, context));
    case 'balance': {
      const wallet = account(key);
      return success({ balance: credits(wallet.balance), frozen: credits(wallet.frozen) });
    }
    case 'usage':
      return success(usage(new URL(request.url), key));
  }
}

async function serve(
  request: Request,
  path: string,
  context: SandboxContext,
  requestId: string,
): Promise<Response> {
  const raw =
    request.method === 'POST' || request.method === 'PUT'
      ? Buffer.from(await request.arrayBuffer())
      : undefined;
  const copy = new Request(request.url, {
    method: request.method,
    headers: request.headers,
    ...(raw ? { body: raw } : {}),
  });
  const body = await readBody(copy, path);
  context.record(body.recorded);

  if (path !== API && !path.startsWith(`${API}/`)) return retiredHost();
  if (path.startsWith(FILES_PREFIX)) return download(request, path, context);
  const route = ROUTES.find((candidate) => candidate.matches(path));
  if (!route) {
    return tripoError(requestId, 4001, {
      detail: NOT_SIMULATED[path] ?? `No route for ${request.method} ${path}`,
    });
  }
  if (route.method !== request.method) {
    return tripoError(requestId, 1003, {
      status: 405,
      detail: `Method ${request.method} is not allowed for ${route.template}`,
    });
  }

  const key = parseKey(request);
  if (key === undefined) return tripoError(requestId, 1002);

  const fault = context.takeFault();
  if (fault?.timeout) return context.hang(request);
  if (fault?.status !== undefined) return faultResponse(requestId, { ...fault, status: fault.status });
  const resultFault = parseResultFault(fault?.outcome);
  if (resultFault) queuedEffects.push({ kind: 'result', fault: resultFault });
  else if (fault?.outcome !== undefined)
    queuedEffects.push({ kind: 'outcome', outcome: toOutcome(fault.outcome) });
  else if (fault?.moderated) queuedEffects.push({ kind: 'moderated' });

  try {
    return await dispatch(route.name, request, path, body, raw, key, context);
  } catch (error) {
    if (error instanceof TripoFailure) {
      return tripoError(requestId, error.code, {
        detail: error.message,
        ...(error.httpStatus === undefined ? {} : { status: error.httpStatus }),
      });
    }
    throw error;
  }
}

export const tripoSimulator: SandboxSimulator = {
  provider: 'tripo',
  async handle(request: Request, path: string, context: SandboxContext): Promise<Response> {
    // Tripo tags every answer so that support can find the request; error bodies repeat it.
    const requestId = randomUUID();
    const endpoint = tripoEndpointOf(request.method, path);
    try {
      const response = await serve(request, path, context, requestId);
      response.headers.set('X-Tripo-Trace-ID', requestId);
      logCall({ method: request.method, path, endpoint, status: response.status });
      return response;
    } catch (error) {
      logCall({ method: request.method, path, endpoint, status: 0 });
      throw error;
    }
  },
};
