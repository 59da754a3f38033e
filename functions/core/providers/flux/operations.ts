import * as z from 'zod';
import { InputInvalidError, ProviderRejectedError, ProviderUnavailableError } from '../../errors.ts';
import { checkImageHeader } from '../../images/input-check.ts';
import { logger } from '../../logger.ts';
import type {
  AsyncProviderOperation,
  PollOutcome,
  ProviderOperation,
  ProviderRunContext,
} from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import { downloadProviderFile } from '../http-client.ts';
import { moderatedError } from '../provider-errors.ts';
import { bflConnection, bflRequest, FLUX_LABEL, trustedPollingUrl } from './client.ts';
import { fluxRequests, type ImageToImageRequest, ImageToImageSchema, OUTPUT_FORMATS } from './schemas.ts';
import { fluxPolling, fluxSettings } from './settings.ts';

/**
 * FLUX.1 Kontext [pro]/[max] image editing (docs/providers/flux.md): submit once, then the
 * state machine's Wait → PollProviderJob → Choice loop polls BFL's `polling_url` until a terminal
 * status. The result URL lives 10 minutes, so a `Ready` poll downloads it at once.
 */

/**
 * A poll is a small GET that BFL answers at once. Without a limit of its own it would wait the
 * full PROVIDER_TIMEOUT_SECONDS (300 s), which is also the ASL's timeout for PollProviderJob, and
 * a `States.Timeout` there fails the task instead of being retried like ProviderTimeoutError.
 */
const POLL_TIMEOUT_SECONDS = 30;

/**
 * Ten minutes: 30–100 times a normal Kontext run, with room for queueing at busy hours. A task
 * still Pending by then is stuck rather than slow, and failing it as timed out frees the client
 * far sooner than the 30-minute default. With fluxPolling's waits (2–30 s) a job stuck that
 * long costs a few dozen polls.
 */
const DEADLINE_SECONDS = 10 * 60;

/** What travels in the execution between polls (small: a state's payload is limited). */
const JobStateSchema = z.object({
  id: z.string().min(1),
  polling_url: z.string().min(1),
  output_format: z.enum(OUTPUT_FORMATS),
});

const CreatedSchema = z.object({
  id: z.string().min(1),
  polling_url: z.string().min(1),
  cost: z.number().nullish(),
});

const PollResponseSchema = z.object({
  status: z.string(),
  progress: z.number().nullish(),
  result: z.object({ sample: z.string().nullish(), seed: z.number().nullish() }).nullish(),
  details: z.unknown().optional(),
  /** BFL's reason on `Error` (black-forest-labs/skills references/endpoints.md @ab8b5eb, 2026-12-02). */
  error: z.unknown().optional(),
});
type PollResponse = z.infer<typeof PollResponseSchema>;

/** The JSON body BFL receives: only the fields it documents, and only those the client set. */
function submitBody(request: ImageToImageRequest, input: FetchedInput): Record<string, unknown> {
  return {
    prompt: request.prompt,
    // Base64, not the storage URL: BFL cannot reach a private bucket or the local stack.
    input_image: input.bytes.toString('base64'),
    // Omitted unless chosen, so the output keeps the input's proportions (docs/providers/flux.md, "Fields and limits checked").
    ...(request.aspect_ratio !== undefined ? { aspect_ratio: request.aspect_ratio } : {}),
    // Always sent: BFL's documented default has changed between jpeg and png.
    output_format: request.output_format,
    safety_tolerance: request.safety_tolerance,
    prompt_upsampling: request.prompt_upsampling,
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  };
}

async function submit(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  context: ProviderRunContext,
): ReturnType<AsyncProviderOperation['submit']> {
  const request = ImageToImageSchema.parse(params);
  const input = inputs.find((candidate) => candidate.field === 'input_image_asset_url');
  if (!input) throw new InputInvalidError('input_image_asset_url is required');
  // BFL decodes PNG, JPEG and WebP up to its size limits; anything else fails here, from the
  // file's header, before a billable call.
  checkImageHeader(input, fluxSettings.inputImages['image-to-image']);
  const connection = await bflConnection();
  const send = () =>
    bflRequest(`${connection.baseUrl}/v1/${request.model}`, connection, {
      method: 'POST',
      body: {
        ...submitBody(request, input),
        // BFL calls this URL when the job ends (docs/providers/flux.md, Webhooks); polling stays valid.
        ...(context.webhook
          ? { webhook_url: context.webhook.url, webhook_secret: context.webhook.secret }
          : {}),
      },
      signal: context.signal,
      creates: true,
    });
  const answer = await (context.guardCreate ? context.guardCreate(send) : send());
  const created = CreatedSchema.safeParse(answer);
  if (!created.success) {
    throw new ProviderRejectedError(
      `${FLUX_LABEL} accepted the request but returned no task id or polling URL`,
    );
  }
  const { id, polling_url: pollingUrl, cost } = created.data;
  return {
    providerJobId: id,
    state: {
      id,
      polling_url: trustedPollingUrl(pollingUrl, connection.baseUrl),
      output_format: request.output_format,
    },
    sent: {
      endpoint: `/v1/${request.model}`,
      aspect_ratio: request.aspect_ratio ?? 'not sent (output follows the input image)',
      ...(typeof cost === 'number' ? { cost_credits: cost } : {}),
    },
  };
}

/** BFL's `details` as one short line (an object such as `{message}` or moderation reasons). */
function describeDetails(details: unknown): string {
  if (details === undefined || details === null) return '';
  if (typeof details === 'string') return details;
  if (typeof details === 'object' && typeof (details as { message?: unknown }).message === 'string') {
    return (details as { message: string }).message;
  }
  return JSON.stringify(details);
}

async function downloadResult(
  state: z.infer<typeof JobStateSchema>,
  answer: PollResponse,
  baseUrl: string,
): Promise<PollOutcome> {
  const sample = answer.result?.sample;
  if (!sample) throw new ProviderRejectedError(`${FLUX_LABEL} reported the task Ready without a result URL`);
  const bytes = await downloadProviderFile(FLUX_LABEL, sample, baseUrl);
  const kind = sniffFileKind(bytes);
  if (!kind || (kind.contentType !== 'image/png' && kind.contentType !== 'image/jpeg')) {
    throw new ProviderRejectedError(
      `${FLUX_LABEL} returned a result that is not a ${state.output_format.toUpperCase()} image`,
    );
  }
  const seed = answer.result?.seed;
  return {
    status: 'done',
    // The bytes decide the stored type: a result is never labelled as something it is not.
    files: [{ bytes, contentType: kind.contentType, extension: kind.extension }],
    sent: typeof seed === 'number' ? { seed_used: seed } : {},
  };
}

async function poll(
  rawState: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<PollOutcome> {
  // The state was written by submit; a mismatch is a bug, not a provider answer.
  const state = JobStateSchema.parse(rawState);
  const connection = await bflConnection();
  const url = trustedPollingUrl(state.polling_url, connection.baseUrl);
  // Polling again cannot bring the task back; a new request starts a new one.
  const notFound = `${FLUX_LABEL} task ${state.id} was not found or has expired (BFL status "Task not found"); submitting the request again may help`;
  const answer = PollResponseSchema.safeParse(
    await bflRequest(url, connection, {
      method: 'GET',
      signal,
      notFound,
      timeoutSeconds: POLL_TIMEOUT_SECONDS,
    }),
  );
  if (!answer.success) {
    // Polling has no side effects, so an unreadable answer is worth another attempt.
    throw new ProviderUnavailableError(
      `${FLUX_LABEL} answered a poll with an unreadable body; retrying may help`,
    );
  }
  const { status, progress, details, error } = answer.data;
  const detail = [describeDetails(error), describeDetails(details)].filter(Boolean).join('; ');
  switch (status) {
    case 'Pending':
      return {
        status: 'pending',
        // BFL reports 0–1 (or null); status shows 0–100.
        // The poll schedule (fluxPolling) estimates the next wait from it.
        ...(typeof progress === 'number' ? { progress: Math.min(100, Math.max(0, progress * 100)) } : {}),
      };
    case 'Ready':
      return downloadResult(state, answer.data, connection.baseUrl);
    case 'Request Moderated':
      throw moderatedError(
        FLUX_LABEL,
        `Request Moderated: the prompt or input image was flagged before generation${detail ? `; ${detail}` : ''}`,
      );
    case 'Content Moderated':
      throw moderatedError(
        FLUX_LABEL,
        `Content Moderated: the generated image was flagged${detail ? `; ${detail}` : ''}`,
      );
    case 'Error':
      // Not retried by the state machine (the task is over at BFL), but a new request may work.
      throw new ProviderRejectedError(
        `${FLUX_LABEL} failed while generating the image (BFL status "Error"${detail ? `: ${detail.slice(0, 300)}` : ''}); submitting the request again may help`,
      );
    case 'Task not found':
      throw new ProviderRejectedError(notFound);
    default:
      // A status BFL added after this was written: keep polling with growing waits;
      // the deadline ends it if it never resolves.
      logger.warn('Unknown Flux task status; polling again', {
        provider_job_id: state.id,
        bfl_status: status,
      });
      return { status: 'pending' };
  }
}

export const fluxImageToImage: AsyncProviderOperation = {
  ...fluxRequests['image-to-image'],
  deadlineSeconds: DEADLINE_SECONDS,
  polling: fluxPolling,
  submit: (params, inputs, context) => submit(params, inputs, context),
  poll: (state, context) => poll(state, context.signal),
};

export const fluxOperations: Record<string, ProviderOperation> = {
  'image-to-image': fluxImageToImage,
};
