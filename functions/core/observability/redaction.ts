/**
 * What must never reach a log line, enforced where every line is serialised (the logger's JSON
 * replacer, called for every key and value of a line, the message included), so it holds for
 * lines written by any module and for fields nobody thought about: credentials, API keys, request
 * bodies and image bytes. Redaction replaces a value; it never drops the line.
 */

export const REDACTED = '[redacted]';

/**
 * Keys whose values are credentials, whatever their value looks like: HTTP auth headers (the
 * client's `x-api-key`, BFL's `x-key`), the registration `verification_secret`, provider key
 * variables (`OPENAI_API_KEY`, `*_API_KEY`), passwords, tokens and service keys.
 */
const SECRET_KEY =
  /^(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-key|api[-_]?key|password|passwd|secret|token|access[-_]token|refresh[-_]token|id[-_]token|service[-_]key|verification[-_]secret|client[-_]secret|.*[-_]api[-_]key|.*[-_]secret|.*[-_]token|.*[-_]password|.*[-_]service[-_]key)$/i;

/** Keys whose values are request or response bodies, or image data: described, never written. */
const BODY_KEY =
  /^(?:body|raw[-_]?body|request[-_]?body|response[-_]?body|b64[-_]?json|image[-_]?base64|image[-_]?data|input[-_]?image|bytes[-_]?base64)$/i;

/** Environment variables that hold secrets (their values are scrubbed from every string). */
const SECRET_VARIABLE =
  /(?:_API_KEY|_SECRET|_SERVICE_KEY|_TOKEN|_PASSWORD|^AWS_SECRET_ACCESS_KEY|^AWS_SESSION_TOKEN)$/;

/** Shorter values are not scrubbed by value: a short word would mangle ordinary text. */
const MIN_SECRET_LENGTH = 8;

/** The longest string a line keeps; a provider's whole HTML error page is not worth more. */
export const MAX_LOGGED_STRING = 4000;

const registered = new Set<string>();

/**
 * Adds a secret value read at run time (a key from Secrets Manager, which is never in the
 * environment) to those scrubbed from every log line.
 */
export function redactSecretValue(value: string | undefined): void {
  const secret = value?.trim();
  if (secret && secret.length >= MIN_SECRET_LENGTH) registered.add(secret);
}

function secretValues(): string[] {
  const values = new Set(registered);
  for (const [name, value] of Object.entries(process.env)) {
    if (!SECRET_VARIABLE.test(name) || value === undefined) continue;
    const secret = value.trim();
    if (secret.length >= MIN_SECRET_LENGTH) values.add(secret);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...values].sort((a, b) => b.length - a.length);
}

/** Patterns of credentials and data that are scrubbed wherever they appear in text. */
const TEXT_RULES: readonly [RegExp, string | ((match: string, ...groups: string[]) => string)][] = [
  // This service's API keys (api-keys.ts `generateApiKey`, and the test key).
  [/makeit3d_(?:live|test)_sk_[A-Za-z0-9_-]+/g, REDACTED],
  // `Authorization: Bearer …` / `Basic …` as text.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, (_match, scheme) => `${scheme} ${REDACTED}`],
  // JSON Web Tokens (Supabase keys and signed-URL tokens are JWTs).
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, REDACTED],
  // Credentials in a URL: `https://user:password@host`.
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, (_match, slashes) => `${slashes}${REDACTED}@`],
  // Signed-URL and key query parameters (S3 pre-signed URLs, Supabase signed URLs, `?key=`).
  [
    /([?&](?:token|key|api_key|apikey|access_token|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s"'#]+/gi,
    (_match, name) => `${name}${REDACTED}`,
  ],
  // Inline images.
  [/data:[\w.+-]+\/[\w.+-]+;base64,[A-Za-z0-9+/=_-]+/g, (match) => `[data URL: ${match.length} chars]`],
];

/** A run of base64 (or base64url) long enough to be file bytes rather than a word or an id. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{64,}={0,2}/g;

/** Encoded bytes use every class of the alphabet; paths, ids and words do not. */
function looksEncoded(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run);
}

/**
 * Control characters and U+FFFD (what undecodable bytes become) do not occur in the service's own
 * text; two of them mean bytes were decoded as text (a PNG's signature alone has two).
 */
function looksBinary(text: string): boolean {
  let seen = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    const control = code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d;
    if ((control || (code >= 0x7f && code <= 0x9f) || code === 0xfffd) && ++seen >= 2) return true;
  }
  return false;
}

/** Text with every secret, credential, inline image and byte run replaced. */
export function redactText(text: string, secrets: readonly string[] = secretValues()): string {
  if (looksBinary(text)) return `[binary: ${text.length} chars]`;
  let result = text;
  for (const secret of secrets) {
    if (result.includes(secret)) result = result.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of TEXT_RULES) {
    result = result.replace(pattern, replacement as (match: string, ...groups: string[]) => string);
  }
  result = result.replace(BASE64_RUN, (run) => (looksEncoded(run) ? `[base64: ${run.length} chars]` : run));
  if (result.length > MAX_LOGGED_STRING) {
    result = `${result.slice(0, MAX_LOGGED_STRING)}…[${result.length - MAX_LOGGED_STRING} more chars]`;
  }
  return result;
}

function isSerialisedBuffer(value: object): value is { type: 'Buffer'; data: unknown[] } {
  const candidate = value as { type?: unknown; data?: unknown };
  return candidate.type === 'Buffer' && Array.isArray(candidate.data);
}

/**
 * A JSON.stringify replacer for log lines. JSON.stringify calls it first with the key '' and the
 * whole line, then for every key below: the secrets to scrub are read once per line, at ''.
 */
export function logReplacer(): (key: string, value: unknown) => unknown {
  let secrets: string[] = [];
  return (key, value) => {
    if (key === '') secrets = secretValues();
    if (value === undefined || value === null) return value;
    if (key !== '' && SECRET_KEY.test(key)) return REDACTED;
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      return `[binary: ${value.byteLength} bytes]`;
    }
    if (typeof value === 'object' && isSerialisedBuffer(value)) return `[binary: ${value.data.length} bytes]`;
    if (key !== '' && BODY_KEY.test(key)) {
      return typeof value === 'string' ? `[body: ${value.length} chars]` : '[body]';
    }
    if (typeof value === 'string') return redactText(value, secrets);
    return value;
  };
}
