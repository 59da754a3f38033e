import {
  type FieldSchema,
  OPERATIONS,
  type OperationName,
  type ProviderSpec,
} from '../generated/operations.ts';

/**
 * The CLI's flags: every request field of the operation's provider as `--field-name` (from the
 * generated request data, so a field the API takes is a flag here), input aliases (`--image`,
 * `--sketch`, `--mask`, `--model-file`), and the options below.
 */

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Options that are not request fields; `boolean` ones take no value. */
export const OPTIONS: Record<string, { boolean?: boolean; help: string; env?: string }> = {
  provider: { help: 'the provider (see the list above); optional where the operation has a default' },
  body: { help: 'a JSON file with the request body; flags override its fields' },
  out: { help: 'the folder results are saved to (default: the current folder)' },
  'api-key': { help: 'the API key', env: 'MAKEIT3D_API_KEY' },
  'base-url': {
    help: 'the API base URL (default http://localhost:8000, the local stack)',
    env: 'MAKEIT3D_BASE_URL',
  },
  'supabase-url': {
    help: 'Supabase project URL inputs are uploaded to (default: the base URL)',
    env: 'SUPABASE_URL',
  },
  'supabase-anon-key': { help: 'Supabase anon key, sent as apikey', env: 'SUPABASE_ANON_KEY' },
  'supabase-access-token': {
    help: "a signed-in user's access token for the upload (default: the anon key)",
    env: 'SUPABASE_ACCESS_TOKEN',
  },
  bucket: { help: 'Storage bucket for uploads (default makeit3d-app-assets)', env: 'SUPABASE_BUCKET' },
  'idempotency-key': { help: 'the Idempotency-Key to send (default: a random UUID)' },
  timeout: { help: 'seconds to wait for the result (default: 15 minutes, 35 for 3D)' },
  'poll-interval': { help: "seconds between status reads (default: the guide's provider-aware schedule)" },
  'no-wait': { boolean: true, help: 'print the job id and exit without waiting' },
  json: { boolean: true, help: "print the task's final status as JSON on stdout" },
  help: { boolean: true, help: 'this help' },
};

/** Short names for the input fields: the value is a local file (uploaded first) or a URL. */
export const INPUT_ALIASES: Record<string, readonly string[]> = {
  image: ['input_image_asset_url', 'input_image_asset_urls'],
  sketch: ['input_sketch_asset_url'],
  mask: ['input_mask_asset_url'],
  'model-file': ['input_model_asset_url'],
};

export interface ParsedArgs {
  command: string | undefined;
  positionals: string[];
  /** Flags by name (dashes), each with every value given. */
  flags: Map<string, (string | true)[]>;
}

export function isOperation(name: string | undefined): name is OperationName {
  return name !== undefined && Object.hasOwn(OPERATIONS, name);
}

/** The field name a flag stands for: `--task-id` and `--task_id` are `task_id`. */
export function fieldName(flag: string): string {
  return flag.replaceAll('-', '_');
}

function flagName(field: string): string {
  return field.replaceAll('_', '-');
}

function isBooleanSchema(schema: FieldSchema | undefined): boolean {
  return schema?.type === 'boolean';
}

/** Whether a flag takes no value for this operation (a boolean field of any of its providers, or an option). */
function isBooleanFlag(operation: OperationName | undefined, flag: string): boolean {
  if (OPTIONS[flag]?.boolean) return true;
  if (!operation) return false;
  const name = fieldName(flag.startsWith('no-') ? flag.slice(3) : flag);
  if (flag.startsWith('no-') && flag !== 'no-wait') return true;
  return Object.values(OPERATIONS[operation].providers).some((spec) =>
    isBooleanSchema(spec.properties[name]),
  );
}

/** Splits argv into the command, positionals and flags (`--a b`, `--a=b`, `--flag`, `--no-flag`). */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags = new Map<string, (string | true)[]>();
  const positionals: string[] = [];
  let command: string | undefined;
  const add = (name: string, value: string | true) => flags.set(name, [...(flags.get(name) ?? []), value]);
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] as string;
    if (token === '-h') {
      add('help', true);
      continue;
    }
    if (!token.startsWith('--') || token === '--') {
      if (command === undefined) command = token;
      else positionals.push(token);
      continue;
    }
    const body = token.slice(2);
    const equals = body.indexOf('=');
    if (equals >= 0) {
      add(body.slice(0, equals), body.slice(equals + 1));
      continue;
    }
    const operation = isOperation(command) ? command : undefined;
    const next = argv[index + 1];
    if (isBooleanFlag(operation, body)) {
      if (!body.startsWith('no-') && (next === 'true' || next === 'false')) {
        add(body, next);
        index++;
      } else add(body, true);
      continue;
    }
    if (next === undefined || (next.startsWith('--') && next.length > 2)) {
      throw new UsageError(`--${body} needs a value`);
    }
    add(body, next);
    index++;
  }
  return { command, positionals, flags };
}

/** The last value of an option flag (or its environment variable). */
export function option(args: ParsedArgs, name: string, env: NodeJS.ProcessEnv = {}): string | undefined {
  const values = args.flags.get(name);
  const last = values?.[values.length - 1];
  if (last === true) throw new UsageError(`--${name} needs a value`);
  if (last !== undefined) return last;
  const variable = OPTIONS[name]?.env;
  const fromEnv = variable ? env[variable] : undefined;
  return fromEnv === '' ? undefined : fromEnv;
}

export function hasFlag(args: ParsedArgs, name: string): boolean {
  return args.flags.has(name);
}

function convertScalar(flag: string, raw: string | true, schema: FieldSchema): unknown {
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (raw === true) {
    if (types.includes('boolean')) return true;
    throw new UsageError(`--${flag} needs a value`);
  }
  if (raw === 'null' && types.includes('null')) return null;
  if (types.includes('boolean')) {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new UsageError(`--${flag} must be true or false`);
  }
  if (types.includes('integer') || types.includes('number')) {
    const value = Number(raw);
    if (raw.trim() === '' || Number.isNaN(value))
      throw new UsageError(`--${flag} must be a number, not '${raw}'`);
    return value;
  }
  if (schema.anyOf) {
    // e.g. texture_resolution: "1024" or 1024; the string form is accepted wherever the number is.
    const stringForm = schema.anyOf.find((entry) => entry.type === 'string');
    if (stringForm) return raw;
    const numberForm = schema.anyOf.find((entry) => entry.type === 'number' || entry.type === 'integer');
    if (numberForm) return convertScalar(flag, raw, numberForm);
  }
  return raw;
}

/** A field's value from its flag values, typed by the field's schema. */
export function convertField(flag: string, values: (string | true)[], schema: FieldSchema): unknown {
  if (schema.type === 'array') {
    const items = schema.items ?? { type: 'string' };
    return values.map((value) => convertScalar(flag, value, items));
  }
  const last = values[values.length - 1] as string | true;
  if (flag.startsWith('no-')) return false;
  return convertScalar(flag, last, schema);
}

export interface RequestPlan {
  operation: OperationName;
  provider: string | undefined;
  spec: ProviderSpec;
  body: Record<string, unknown>;
}

/**
 * The request body from `--body` (already read) and the flags: each flag is a field of the
 * selected provider's request, typed by its schema; anything else is a usage error naming it.
 */
export function buildRequest(
  operation: OperationName,
  args: ParsedArgs,
  fileBody: Record<string, unknown> = {},
): RequestPlan {
  const operationSpec = OPERATIONS[operation];
  const providers = Object.keys(operationSpec.providers);
  const named =
    option(args, 'provider') ?? (typeof fileBody.provider === 'string' ? fileBody.provider : undefined);
  const provider = operationSpec.providerless ?? named ?? operationSpec.defaultProvider;
  if (provider === undefined) {
    throw new UsageError(
      `provider is required for ${operation}. Supported providers: ${providers.join(', ')} (--provider)`,
    );
  }
  const spec = operationSpec.providers[provider];
  if (!spec) {
    throw new UsageError(
      `Unsupported provider '${provider}' for ${operation}. Supported providers: ${providers.join(', ')}`,
    );
  }
  const body: Record<string, unknown> = { ...fileBody };
  if (named !== undefined && !operationSpec.providerless) body.provider = named;
  for (const [flag, values] of args.flags) {
    if (Object.hasOwn(OPTIONS, flag)) continue;
    const alias = INPUT_ALIASES[flag]?.find((field) => field in spec.properties);
    const name = alias ?? fieldName(flag.startsWith('no-') ? flag.slice(3) : flag);
    const schema = spec.properties[name];
    if (!schema || name === 'provider') {
      throw new UsageError(
        `Unknown option --${flag} for ${operation} with provider ${provider}; see makeit3d ${operation} --provider ${provider} --help`,
      );
    }
    body[name] = convertField(flag, values, schema);
  }
  return { operation, provider, spec, body };
}

function typeLabel(schema: FieldSchema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map(String).join('|');
  if (schema.anyOf) return [...new Set(schema.anyOf.map(typeLabel))].join('|');
  if (schema.type === 'array') return `${schema.items ? typeLabel(schema.items) : 'value'} …`;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? 'value'];
  return types.join('|');
}

function rules(schema: FieldSchema): string {
  const parts: string[] = [];
  if (schema.type === 'integer') parts.push('integer');
  if (schema.minimum !== undefined || schema.maximum !== undefined)
    parts.push(`${schema.minimum ?? '…'} to ${schema.maximum ?? '…'}`);
  if (schema.maxLength !== undefined) parts.push(`${schema.minLength ?? 0}-${schema.maxLength} characters`);
  if (schema.minItems !== undefined || schema.maxItems !== undefined)
    parts.push(`${schema.minItems ?? 0}-${schema.maxItems ?? 'any'} values (repeat the flag)`);
  else if (schema.type === 'array') parts.push('repeat the flag for each value');
  return parts.join(', ');
}

/** `makeit3d <operation> --help`: each provider's fields (or only `provider`'s). */
export function operationHelp(operation: OperationName, provider?: string): string {
  const operationSpec = OPERATIONS[operation];
  const providers = Object.keys(operationSpec.providers);
  const shown = provider && operationSpec.providers[provider] ? [provider] : providers;
  const lines = [
    `Usage: makeit3d ${operation} ${operationSpec.providerless ? '' : `--provider <${providers.join('|')}> `}[fields] [options]`,
    '',
  ];
  if (operationSpec.defaultProvider) lines.push(`provider defaults to ${operationSpec.defaultProvider}.`, '');
  for (const name of shown) {
    const spec = operationSpec.providers[name] as ProviderSpec;
    lines.push(
      operationSpec.providerless
        ? `Fields of ${operation}:`
        : `Fields of ${operation} with --provider ${name}:`,
    );
    for (const [field, schema] of Object.entries(spec.properties)) {
      if (field === 'provider') continue;
      const required =
        field === 'task_id' ? 'default cli-<time>' : spec.required.includes(field) ? 'required' : '';
      const input = spec.inputFields.includes(field) ? 'a local file (uploaded first) or a Storage URL' : '';
      const described = [required, rules(schema), input].filter(Boolean).join('; ');
      const left = `  --${flagName(field)} <${typeLabel(schema)}>`;
      lines.push(described ? `${left.padEnd(40)} ${described}` : left);
    }
    const aliases = Object.entries(INPUT_ALIASES)
      .filter(([, fields]) => fields.some((field) => spec.inputFields.includes(field)))
      .map(
        ([alias, fields]) =>
          `--${alias} (= --${flagName(fields.find((f) => spec.inputFields.includes(f)) ?? '')})`,
      );
    if (aliases.length > 0) lines.push(`  Input shorthands: ${aliases.join(', ')}`);
    lines.push('');
  }
  lines.push(optionsHelp());
  return lines.join('\n');
}

export function optionsHelp(): string {
  const lines = ['Options:'];
  for (const [name, spec] of Object.entries(OPTIONS)) {
    const left = `  --${name}${spec.boolean ? '' : ' <value>'}`;
    lines.push(`${left.padEnd(32)} ${spec.help}${spec.env ? ` [env ${spec.env}]` : ''}`);
  }
  return lines.join('\n');
}

export function generalHelp(): string {
  const lines = [
    'Usage: makeit3d <command> [options]',
    '',
    'Operations (submit, upload inputs, show progress, download the results):',
  ];
  for (const [operation, spec] of Object.entries(OPERATIONS)) {
    const providers = spec.providerless ? '(no provider)' : Object.keys(spec.providers).join(', ');
    lines.push(`  ${operation.padEnd(20)} ${providers}`);
  }
  lines.push(
    '',
    'Other commands:',
    '  status <job id>        print a task status as JSON',
    '  wait <job id>          wait for a task and download its results',
    '  health                 GET /health',
    '  register               POST /auth/register (--verification-secret, --tenant-type, --tenant-identifier, --tenant-name)',
    '',
    'makeit3d <operation> --help lists the fields of each provider.',
    '',
    optionsHelp(),
  );
  return lines.join('\n');
}
