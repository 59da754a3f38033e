import { MethodNotAllowedError, NotFoundError } from '../core/errors.ts';
import { apiHandler } from '../core/http.ts';
import { matchRoute } from './routes.ts';

/** The API's `$default` route: 405 for a known path with another method, else 404 (contract §1). */
export const handler = apiHandler(async (request) => {
  const match = matchRoute(request.event.requestContext.http.method, request.event.rawPath);
  if (match.kind === 'method-not-allowed') {
    throw new MethodNotAllowedError(`Method not allowed; use ${match.allow.join(' or ')}`, match.allow);
  }
  throw new NotFoundError('Not found');
});
