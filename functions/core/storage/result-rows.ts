import { getConfig } from '../config.ts';
import { logger } from '../logger.ts';
import type { Task } from '../tasks/task.ts';
import { supabaseRows } from './supabase-rows.ts';

/**
 * Rows in the Supabase tables `concept_images` (2D) and `models` (3D), docs/api.md, Results: one row per
 * job and result index, upserted on (job_id, result_index) so every write is repeatable. The
 * DynamoDB task stays the source of truth; rows mirror it.
 */

export interface ResultRow {
  task_id: string;
  job_id: string;
  result_index: number;
  tenant_id: string;
  operation: string;
  provider: string;
  prompt: string | null;
  status: Task['status'];
  asset_url: string | null;
  error: string | null;
  ai_service_task_id: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export function tableFor(resultKind: 'image' | 'model'): string {
  const config = getConfig();
  return resultKind === 'model' ? config.SUPABASE_MODELS_TABLE : config.SUPABASE_CONCEPT_IMAGES_TABLE;
}

/** The rows that mirror a task: one per stored result, or one while there is none. */
export function rowsForTask(task: Task, assetUrls: string[]): ResultRow[] {
  const prompt = typeof task.params.prompt === 'string' ? task.params.prompt : null;
  const { task_id: _clientTaskId, provider: _provider, ...requestParams } = task.params;
  const base = {
    task_id: task.client_task_id,
    job_id: task.job_id,
    tenant_id: task.tenant_id,
    operation: task.operation,
    provider: task.provider,
    prompt,
    status: task.status,
    error: task.error ?? null,
    ai_service_task_id: task.ai_service_task_id ?? null,
    created_at: task.created_at,
    updated_at: task.updated_at,
  };
  const metadata = { request: requestParams, ...(task.result_metadata ?? {}) };
  if (assetUrls.length === 0) return [{ ...base, result_index: 0, asset_url: null, metadata }];
  return assetUrls.map((url, index) => ({
    ...base,
    result_index: index,
    asset_url: url,
    metadata: { ...metadata, result: task.assets?.[index] ?? null },
  }));
}

export async function upsertRows(table: string, rows: ResultRow[]): Promise<void> {
  const client = await supabaseRows();
  const { error } = await client.from(table).upsert(rows, { onConflict: 'job_id,result_index' });
  if (error) throw new Error(`Could not write ${table} rows: ${error.message}`);
}

/** For writes that must not hold up or fail the caller (pending/processing mirrors). */
export async function upsertRowsBestEffort(
  table: string,
  rows: ResultRow[],
  timeoutMs = 3000,
): Promise<void> {
  try {
    await Promise.race([
      upsertRows(table, rows),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
    ]);
  } catch (error) {
    logger.warn('Result rows not updated; the final state will write them', {
      table,
      job_id: rows[0]?.job_id,
      error_message: (error as Error).message,
    });
  }
}
