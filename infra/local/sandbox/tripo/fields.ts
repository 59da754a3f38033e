import { invalid } from './errors.ts';
import { tripoSandboxSettings } from './state.ts';

/** Reading the JSON body of a create: typed getters that answer 1004 for the wrong type or value. */

export type Fields = Record<string, unknown>;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function optionalBool(fields: Fields, name: string): boolean | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean`);
  return value;
}

export function optionalInt(fields: Fields, name: string): number | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(`${name} must be an integer`);
  return value;
}

export function optionalEnum<T extends string>(
  fields: Fields,
  name: string,
  values: readonly T[],
): T | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  const match = values.find((candidate) => candidate === value);
  if (match === undefined) throw invalid(`${name} must be one of: ${values.join(', ')}`);
  return match;
}

export function optionalText(fields: Fields, name: string, max: number): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be a string`);
  if ([...value].length > max) throw invalid(`${name} must be at most ${max} characters`);
  return value;
}

/** `type` was v2's task selector; v3 has one endpoint per capability and ignores it if sent. */
const IGNORED_FIELDS = ['type'];

/** Names Tripo's v2 or its SDKs use but v3 does not document, with what to send instead. */
const HINTS: Record<string, string> = {
  style: 'style presets are not documented for v3',
  original_task_id: 'v3 reads original_model_task_id or inputs: [{task_id}]',
  text_prompt: 'send texture_prompt: {text}',
  image_prompt: 'send texture_prompt: {image}',
  draft_model_task_id: 'refine is retired',
};

/**
 * Rejects (400/1004) the fields `endpoint` does not document, unless `extraFields` is `accept`;
 * returns the documented ones as sent (what the task's `input` echoes).
 */
export function documentedFields(fields: Fields, known: readonly string[], endpoint: string): Fields {
  const extra = Object.keys(fields).filter((name) => !known.includes(name) && !IGNORED_FIELDS.includes(name));
  if (extra.length > 0 && tripoSandboxSettings.extraFields === 'reject') {
    const hints = extra.flatMap((name) => (HINTS[name] ? [`${name}: ${HINTS[name]}`] : []));
    throw invalid(
      `Unknown parameter(s) for ${endpoint}: ${extra.join(', ')}${hints.length > 0 ? ` (${hints.join('; ')})` : ''}`,
    );
  }
  return Object.fromEntries(Object.entries(fields).filter(([name]) => known.includes(name)));
}
