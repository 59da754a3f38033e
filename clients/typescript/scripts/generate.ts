import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { buildOpenApiDocument, pascal } from '../../../functions/core/openapi/document.ts';
import {
  ALL_OPERATIONS,
  operationRequest,
  providerRule,
  providersOf,
} from '../../../functions/core/operations/request-catalogue.ts';

/**
 * Writes src/generated/operations.ts from the request schemas the submit handler validates with
 * (functions/core/operations/request-catalogue.ts and each provider's schemas.ts), converted with
 * zod's own `z.toJSONSchema` (input side): one interface per operation and provider, a map from
 * operation to the union of its providers' requests, and the same fields as data for the CLI's
 * `--help` and flag parsing. The client imports only the generated file, never zod or functions/.
 *
 * Run with `npm run generate -w @makeit3d/client`; test/unit/client-generated.test.ts fails when the
 * committed file differs from what this script writes now (a schema changed without regenerating).
 */

export const GENERATED_FILE = fileURLToPath(new URL('../src/generated/operations.ts', import.meta.url));

/** A property's JSON Schema as zod writes it, without the parts that are not about the request. */
export interface PropertySchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: PropertySchema[];
  items?: PropertySchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  properties?: Record<string, PropertySchema>;
  required?: string[];
}

interface ObjectSchema {
  properties: Record<string, PropertySchema>;
  required?: string[];
}

const KEPT_KEYS = [
  'type',
  'const',
  'enum',
  'anyOf',
  'items',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
  'properties',
  'required',
] as const;

/**
 * Keeps the keys above. `default` is dropped: some defaults come from environment variables
 * (a provider's model), and the generated file must not depend on the machine it was made on.
 */
function clean(schema: Record<string, unknown>): PropertySchema {
  const out: Record<string, unknown> = {};
  for (const key of KEPT_KEYS) {
    const value = schema[key];
    if (value === undefined) continue;
    if (key === 'anyOf') out[key] = (value as Record<string, unknown>[]).map(clean);
    else if (key === 'items') out[key] = clean(value as Record<string, unknown>);
    else if (key === 'properties')
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, Record<string, unknown>>).map(([name, entry]) => [
          name,
          clean(entry),
        ]),
      );
    else out[key] = value;
  }
  return out as PropertySchema;
}

function literal(value: unknown): string {
  return JSON.stringify(value);
}

/** The TypeScript type of a property schema. */
export function typeOf(schema: PropertySchema): string {
  if (schema.const !== undefined) return literal(schema.const);
  if (schema.enum) return schema.enum.map(literal).join(' | ');
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' | ');
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return 'unknown';
  const parts = types.map((type) => {
    switch (type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array': {
        const item = schema.items ? typeOf(schema.items) : 'unknown';
        return item.includes(' ') ? `Array<${item}>` : `${item}[]`;
      }
      case 'object': {
        if (!schema.properties) return 'Record<string, unknown>';
        const fields = Object.entries(schema.properties).map(
          ([name, property]) => `${name}${schema.required?.includes(name) ? '' : '?'}: ${typeOf(property)}`,
        );
        return `{ ${fields.join('; ')} }`;
      }
      default:
        return 'unknown';
    }
  });
  return parts.join(' | ');
}

/** A one-line description of a property's rules, for doc comments and `--help`. */
export function describe(schema: PropertySchema): string {
  const parts: string[] = [];
  if (schema.type === 'integer') parts.push('integer');
  if (schema.minimum !== undefined && schema.maximum !== undefined)
    parts.push(`${schema.minimum}–${schema.maximum}`);
  else if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  else if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.maxLength !== undefined) parts.push(`${schema.minLength ?? 0}–${schema.maxLength} characters`);
  if (schema.pattern !== undefined) parts.push(`matching ${schema.pattern}`);
  if (schema.minItems !== undefined || schema.maxItems !== undefined)
    parts.push(`${schema.minItems ?? 0}–${schema.maxItems ?? '∞'} items`);
  return parts.join(', ');
}

export interface GeneratedProvider {
  interfaceName: string;
  mode: string;
  resultKind: string;
  reportsProgress: boolean;
  inputFields: readonly string[];
  required: string[];
  properties: Record<string, PropertySchema>;
}

/** Every served operation and provider with its request schema, from the catalogue. */
export function collect(): Record<
  string,
  { defaultProvider?: string; providerless?: string; providers: Record<string, GeneratedProvider> }
> {
  const catalogue: ReturnType<typeof collect> = {};
  for (const operation of ALL_OPERATIONS) {
    const providers = providersOf(operation);
    if (providers.length === 0) continue;
    const rule = providerRule(operation);
    const entries: Record<string, GeneratedProvider> = {};
    for (const provider of providers) {
      const entry = operationRequest(operation, provider);
      const json = z.toJSONSchema(entry.schema, {
        io: 'input',
        unrepresentable: 'any',
      }) as unknown as ObjectSchema;
      const properties: Record<string, PropertySchema> = {};
      for (const [name, property] of Object.entries(json.properties)) {
        properties[name] = clean(property as Record<string, unknown>);
      }
      let required = json.required ?? [];
      if (rule.defaultProvider || rule.providerless)
        required = required.filter((name) => name !== 'provider');
      entries[provider] = {
        interfaceName: `${pascal(operation)}${pascal(provider)}Request`,
        mode: entry.mode,
        resultKind: entry.resultKind,
        reportsProgress: entry.reportsProgress,
        inputFields: entry.inputFields,
        required,
        properties,
      };
    }
    catalogue[operation] = { ...rule, providers: entries };
  }
  return catalogue;
}

/**
 * The other bodies (submit and status answers, registration, health, errors), from the API's
 * OpenAPI document (functions/core/openapi/document.ts), which builds them from the zod schemas
 * of the handlers' answers. Each document schema and the name the client gives it.
 */
export const ANSWERS: Record<string, string> = {
  Accepted: 'SubmitAnswer',
  TaskStatus: 'TaskStatus',
  RegisterRequest: 'RegisterRequest',
  RegisterResponse: 'RegisterAnswer',
  Health: 'HealthAnswer',
  FieldIssue: 'FieldIssue',
  ValidationError: 'ErrorBody',
};

function answers(): string[] {
  const document = buildOpenApiDocument() as unknown as {
    components: { schemas: Record<string, Record<string, unknown>> };
  };
  const lines: string[] = [];
  for (const [name, clientName] of Object.entries(ANSWERS)) {
    const schema = document.components.schemas[name];
    if (!schema) throw new Error(`The OpenAPI document has no components.schemas.${name}`);
    const cleaned = clean(schema);
    lines.push(`/** \`components.schemas.${name}\` of the API's OpenAPI document. */`);
    lines.push(`export interface ${clientName} {`);
    for (const [field, property] of Object.entries(cleaned.properties ?? {})) {
      const optional = cleaned.required?.includes(field) ? '' : '?';
      lines.push(`  ${field}${optional}: ${typeOf(property)};`);
    }
    lines.push('}', '');
  }
  return lines;
}

/** The text of src/generated/operations.ts. */
export function generate(): string {
  const catalogue = collect();
  const lines: string[] = [
    '// Generated by clients/typescript/scripts/generate.ts from the request schemas the API validates',
    '// with (functions/core/operations/request-catalogue.ts) and the answers of its OpenAPI document',
    '// (functions/core/openapi/document.ts). Do not edit: run `npm run generate -w @makeit3d/client`.',
    '',
  ];
  for (const [operation, { providers }] of Object.entries(catalogue)) {
    for (const [provider, entry] of Object.entries(providers)) {
      lines.push(`/** \`POST /generation/${operation}\` with provider \`${provider}\` (docs/api.md). */`);
      lines.push(`export interface ${entry.interfaceName} {`);
      for (const [name, property] of Object.entries(entry.properties)) {
        const rules = describe(property);
        if (rules) lines.push(`  /** ${rules.replaceAll('*/', '*\\/')} */`);
        const optional = entry.required.includes(name) ? '' : '?';
        lines.push(`  ${name}${optional}: ${typeOf(property)};`);
      }
      lines.push('}', '');
    }
  }
  lines.push(
    "/** Each operation's request: the union of its providers' requests, narrowed by `provider`. */",
  );
  lines.push('export interface OperationRequests {');
  for (const [operation, { providers }] of Object.entries(catalogue)) {
    const union = Object.values(providers)
      .map((entry) => entry.interfaceName)
      .join(' | ');
    lines.push(`  '${operation}': ${union};`);
  }
  lines.push('}', '');
  lines.push('export type OperationName = keyof OperationRequests;', '');
  lines.push(...answers());
  const data: Record<string, unknown> = {};
  for (const [operation, rule] of Object.entries(catalogue)) {
    const providers: Record<string, unknown> = {};
    for (const [provider, entry] of Object.entries(rule.providers)) {
      providers[provider] = {
        mode: entry.mode,
        resultKind: entry.resultKind,
        reportsProgress: entry.reportsProgress,
        inputFields: entry.inputFields,
        required: entry.required,
        properties: entry.properties,
      };
    }
    data[operation] = {
      ...(rule.defaultProvider ? { defaultProvider: rule.defaultProvider } : {}),
      ...(rule.providerless ? { providerless: rule.providerless } : {}),
      providers,
    };
  }
  lines.push('/** The same requests as data: fields, rules and input fields per operation and provider. */');
  lines.push(
    `export const OPERATIONS: Record<OperationName, OperationSpec> = ${JSON.stringify(data, null, 2)};`,
    '',
  );
  lines.push(
    'export interface FieldSchema {',
    '  type?: string | string[];',
    '  const?: unknown;',
    '  enum?: unknown[];',
    '  anyOf?: FieldSchema[];',
    '  items?: FieldSchema;',
    '  minimum?: number;',
    '  maximum?: number;',
    '  minLength?: number;',
    '  maxLength?: number;',
    '  minItems?: number;',
    '  maxItems?: number;',
    '  pattern?: string;',
    '}',
    '',
    'export interface ProviderSpec {',
    "  mode: 'sync' | 'async';",
    "  resultKind: 'image' | 'model';",
    '  reportsProgress: boolean;',
    '  inputFields: string[];',
    '  required: string[];',
    '  properties: Record<string, FieldSchema>;',
    '}',
    '',
    'export interface OperationSpec {',
    '  /** The provider used when the request names none. */',
    '  defaultProvider?: string;',
    "  /** Set when the operation takes no provider (the body's `provider` is ignored). */",
    '  providerless?: string;',
    '  providers: Record<string, ProviderSpec>;',
    '}',
    '',
  );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(GENERATED_FILE, generate());
  process.stdout.write(`wrote ${GENERATED_FILE}\n`);
}
