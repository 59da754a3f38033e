import { MethodNotAllowedError, NotFoundError } from '../core/errors.ts';
import { plainApiHandler } from '../core/plain-http.ts';
import { matchRoute } from './routes.ts';

/** The API's `$default` route: 405 for a known path with another method, else 404 (docs/api.md, Conventions). */
export const handler = plainApiHandler((event) => {
  const match = matchRoute(event.requestContext.http.method, event.rawPath);
  if (match.kind === 'method-not-allowed') {
    throw new MethodNotAllowedError(`Method not allowed; use ${match.allow.join(' or ')}`, match.allow);
  }
  throw new NotFoundError('Not found');
});
