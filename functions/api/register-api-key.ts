import { register } from '../core/auth/register.ts';
import { apiHandler } from '../core/http.ts';

/**
 * POST /auth/register. Failed attempts are limited per client address: API Gateway's sourceIp
 * (the TCP peer as API Gateway saw it, not a header the caller could set).
 */
export const handler = apiHandler(
  async (request) => ({
    statusCode: 201,
    body: await register(request.body, {
      address: request.event.requestContext?.http?.sourceIp || 'unknown',
    }),
  }),
  {
    jsonBody: true,
  },
);
