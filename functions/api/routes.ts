/**
 * The API's routes: one table read by the CDK stack (API Gateway routes), the local HTTP host,
 * and the not-found handler (to tell 404 from 405).
 */
export const API_FUNCTIONS = [
  'submit-generation',
  'get-task-status',
  'register-api-key',
  'health',
  'not-found',
  'api-docs',
  'provider-webhook',
] as const;
export type ApiFunctionName = (typeof API_FUNCTIONS)[number];

export interface ApiRoute {
  method: 'GET' | 'POST';
  path: string;
  handler: ApiFunctionName;
}

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'POST', path: '/generation/{operation}', handler: 'submit-generation' },
  { method: 'POST', path: '/generate/{operation}', handler: 'submit-generation' },
  { method: 'GET', path: '/tasks/{jobId}/status', handler: 'get-task-status' },
  { method: 'POST', path: '/auth/register', handler: 'register-api-key' },
  { method: 'GET', path: '/health', handler: 'health' },
  { method: 'GET', path: '/auth/health', handler: 'health' },
  { method: 'GET', path: '/openapi.json', handler: 'api-docs' },
  { method: 'GET', path: '/docs', handler: 'api-docs' },
  { method: 'GET', path: '/docs/{asset}', handler: 'api-docs' },
  { method: 'POST', path: '/webhooks/tripo', handler: 'provider-webhook' },
  { method: 'POST', path: '/webhooks/bfl/{token}', handler: 'provider-webhook' },
];

export type RouteMatch =
  | { kind: 'route'; route: ApiRoute; pathParameters: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

function matchPath(template: string, path: string): Record<string, string> | undefined {
  const templateParts = template.split('/');
  const pathParts = path.split('/');
  if (templateParts.length !== pathParts.length) return undefined;
  const parameters: Record<string, string> = {};
  for (let index = 0; index < templateParts.length; index++) {
    const expected = templateParts[index] ?? '';
    const actual = pathParts[index] ?? '';
    if (expected.startsWith('{') && expected.endsWith('}')) {
      if (actual === '') return undefined;
      try {
        parameters[expected.slice(1, -1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return parameters;
}

/** The path without trailing slashes (a loop: `/\/+$/` is quadratic on a path of many slashes). */
function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}

export function matchRoute(method: string, path: string): RouteMatch {
  const normalised = withoutTrailingSlashes(path);
  const allow: string[] = [];
  for (const route of API_ROUTES) {
    const parameters = matchPath(route.path, normalised);
    if (!parameters) continue;
    if (route.method === method.toUpperCase()) return { kind: 'route', route, pathParameters: parameters };
    allow.push(route.method);
  }
  return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
}
