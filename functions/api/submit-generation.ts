import { apiHandler, tenantOf } from '../core/http.ts';
import { submitGeneration } from '../core/tasks/submit-generation.ts';

/** POST /generation/{operation} and its alias POST /generate/{operation}. */
export const handler = apiHandler(
  async (request) => {
    const result = await submitGeneration({
      tenant: tenantOf(request),
      operation: request.pathParameters.operation ?? '',
      body: request.body,
      idempotencyKey: request.headers['idempotency-key'],
      log: request.log,
    });
    return { statusCode: result.statusCode, body: result.body };
  },
  { auth: 'generation', jsonBody: true },
);
