import * as z from 'zod';
import { assetUrlField, numberRange, oneOf, taskIdField } from './fields.ts';
import type { OperationRequest } from './operation-request.ts';

/** The request of `downscale` (docs/api.md, Downscale), for the submit handler; downscale.ts runs it. */
export const DownscaleSchema = z.object({
  task_id: taskIdField,
  provider: z.literal('bff'),
  input_image_asset_url: assetUrlField,
  max_size_mb: numberRange(0.1, 20),
  aspect_ratio_mode: oneOf(['original', 'square']),
  output_format: oneOf(['original', 'jpeg', 'png']).default('original'),
});

export const downscaleRequest = {
  provider: 'bff',
  mode: 'sync',
  runsOn: 'image-processing',
  schema: DownscaleSchema,
  inputFields: ['input_image_asset_url'],
  resultKind: 'image',
  reportsProgress: false,
} as const satisfies OperationRequest;
