import { openaiOperations } from '../providers/openai/operations.ts';
import { recraftOperations } from '../providers/recraft/operations.ts';
import { stabilityOperations } from '../providers/stability/operations.ts';
import { runnableCatalogue } from './runnable.ts';

/**
 * The operations RunProvider runs: every synchronous provider call (one request, one answer).
 * Asynchronous providers (async-catalogue.ts) and the in-BFF image operations
 * (functions/core/workflow/process-image.ts) are not here, so RunProvider's bundle carries
 * neither their clients nor the image encoders.
 */
export const syncCatalogue = runnableCatalogue(
  'synchronous',
  [openaiOperations, stabilityOperations, recraftOperations],
  (request) => request.mode === 'sync' && request.runsOn !== 'image-processing',
);
