import { apiHandler } from '../core/http.ts';

/** GET /health and GET /auth/health: the process answers; no dependency is called. */
export const handler = apiHandler(async (request) => ({
  statusCode: 200,
  body:
    request.event.rawPath === '/auth/health' ? { status: 'healthy', service: 'auth' } : { status: 'healthy' },
}));
