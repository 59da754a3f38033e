import * as z from 'zod';
import { TENANT_TYPES } from '../auth/register-request.ts';
import type { TaskErrorCode } from '../errors.ts';
import type { AcceptedBody } from '../tasks/submit-generation.ts';
import { TASK_STATUSES } from '../tasks/task.ts';
import type { TaskStatusBody } from '../tasks/task-status.ts';

/**
 * The shapes the API answers with, as zod schemas for the OpenAPI document (docs/api.md,
 * Conventions, Task status, Errors). The handlers build these answers from TypeScript types;
 * the compile-time checks at the end of this file fail when a type and its schema drift apart.
 * Only types are imported from handler modules, so the docs bundle loads none of their code.
 */

/** One problem of a 400 (docs/api.md, Conventions: "Error body"). */
export const FieldIssueSchema = z
  .object({
    field: z.string().meta({
      description: 'The field, as a dotted path for nested values (e.g. `input_image_asset_urls.0`).',
    }),
    message: z.string().meta({ description: 'What is allowed, e.g. `must be an integer between 1 and 4`.' }),
  })
  .meta({ description: 'One problem of a request, naming the field.' });

export const ErrorSchema = z
  .object({
    detail: z.string().meta({ description: 'One sentence saying what is wrong.' }),
  })
  .meta({ description: 'Every error answer: `{"detail": …}` (docs/api.md, Errors).' });

export const ValidationErrorSchema = z
  .object({
    detail: z
      .string()
      .meta({ description: 'One sentence; for a field problem `Invalid request: <field> <message>`.' }),
    errors: z
      .array(FieldIssueSchema)
      .optional()
      .meta({ description: 'Present when fields are missing or invalid: every problem of the body.' }),
  })
  .meta({ description: 'A 400: the error body, with `errors` when fields are missing or invalid.' });

/** The 202 (and idempotent 200) answer of a submit (docs/api.md, Generation requests: "Success: 202"). */
export const AcceptedSchema = z
  .object({
    celery_task_id: z.string().meta({
      description:
        "The job id (the name is the guide's): `<task_id, sanitised, ≤ 63>-<16 random base64url characters>`. Poll `/tasks/{celery_task_id}/status`.",
    }),
    task_id: z
      .string()
      .meta({ description: "The `task_id` of the request (the client's workspace item id)." }),
    status: z.literal('pending'),
    status_url: z.string().meta({ description: 'The status path of this job, relative to the base URL.' }),
  })
  .meta({
    description: 'The task is recorded and started; nothing was downloaded or sent to a provider yet.',
  });

/** Task `error_code` values (docs/api.md, Task status; functions/core/errors.ts). */
export const TASK_ERROR_CODES = [
  'provider_timeout',
  'provider_rejected',
  'content_moderated',
  'input_not_found',
  'input_too_large',
  'input_invalid',
  'provider_unavailable',
  'internal',
] as const satisfies readonly TaskErrorCode[];

const nullableString = (description: string) => z.string().nullable().meta({ description });

export const TaskStatusSchema = z
  .object({
    task_id: z.string().meta({ description: 'The job id (`celery_task_id` of the 202).' }),
    status: z.enum(TASK_STATUSES).meta({
      description:
        '`pending` (recorded, not started), `processing` (the workflow started it), `complete`, `failed`. A finished task never changes again.',
    }),
    asset_url: nullableString("`complete`: the first result's URL; else null."),
    asset_urls: z
      .array(z.string())
      .optional()
      .meta({ description: "`complete` with more than one result: every result's URL, in order." }),
    image_url: z
      .string()
      .optional()
      .meta({ description: '`downscale`, `complete`: the same URL as `asset_url`.' }),
    error: nullableString(
      '`failed`: one sentence saying what failed and whether retrying may help; else null.',
    ),
    error_code: z
      .enum(TASK_ERROR_CODES)
      .optional()
      .meta({ description: '`failed` only: why (docs/api.md, Task status).' }),
    progress: z.number().min(0).max(100).nullable().meta({
      description:
        '0-99 while the provider reports progress, 100 when such a task is complete; null for providers that report none.',
    }),
    client_task_id: z.string().meta({ description: 'The `task_id` of the request.' }),
    operation: z.string(),
    provider: z.string().meta({ description: 'As submitted; `bff` for downscale.' }),
    ai_service_task_id: nullableString("The provider's job id once known (Flux, Tripo), else null."),
    created_at: z.string().meta({ description: 'ISO 8601 UTC.' }),
    updated_at: z.string().meta({ description: 'ISO 8601 UTC.' }),
  })
  .meta({ description: 'A task as the status route reads it (docs/api.md, Task status).' });

export { RegisterRequestSchema } from '../auth/register-request.ts';

export const RegisterResponseSchema = z.object({
  api_key: z.string().meta({
    description: '`makeit3d_<live|test>_sk_<tenant_type>_<32 characters>`; shown only here, keep it.',
  }),
  tenant_id: z.string(),
  tenant_type: z.enum(TENANT_TYPES),
  message: z.string(),
});

export const HealthSchema = z.object({ status: z.literal('healthy') });
export const AuthHealthSchema = z.object({ status: z.literal('healthy'), service: z.literal('auth') });

// ---- Compile-time agreement with the handlers' own types ----

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Agrees<T extends true> = T;

/** Fails to compile when a schema above and the type its handler answers with differ. */
export type ResponseSchemasAgree = [
  Agrees<Same<z.output<typeof AcceptedSchema>, AcceptedBody>>,
  Agrees<Same<keyof z.output<typeof TaskStatusSchema>, keyof TaskStatusBody>>,
  Agrees<Same<z.output<typeof TaskStatusSchema>['status'], TaskStatusBody['status']>>,
  Agrees<Same<(typeof TASK_ERROR_CODES)[number], TaskErrorCode>>,
];
