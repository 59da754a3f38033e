import { register } from '../core/auth/register.ts';
import { apiHandler } from '../core/http.ts';

/** POST /auth/register */
export const handler = apiHandler(
  async (request) => ({ statusCode: 201, body: await register(request.body) }),
  {
    jsonBody: true,
  },
);
