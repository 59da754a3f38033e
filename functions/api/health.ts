import { plainApiHandler } from '../core/plain-http.ts';

/**
 * GET /health and GET /auth/health: the process answers; no dependency is called, so nothing
 * beyond the answer's shape is loaded (a cold start of this bundle is Node's own).
 */
export const handler = plainApiHandler((event) => ({
  statusCode: 200,
  body: event.rawPath === '/auth/health' ? { status: 'healthy', service: 'auth' } : { status: 'healthy' },
}));
