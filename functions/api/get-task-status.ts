import { apiHandler, tenantOf } from '../core/http.ts';
import { readTaskStatus } from '../core/tasks/task-status.ts';

/** GET /tasks/{jobId}/status */
export const handler = apiHandler(
  async (request) => ({
    statusCode: 200,
    body: await readTaskStatus(
      tenantOf(request).tenant_id,
      request.pathParameters.jobId ?? '',
      request.query.service,
    ),
  }),
  { auth: 'status' },
);
