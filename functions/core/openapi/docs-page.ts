import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The API reference page at `/docs` (docs/api.md, OpenAPI and /docs): Swagger UI from the
 * `swagger-ui-dist` package, served by the API itself, so the page needs no other host. Every
 * URL in it is relative to the page, so it works under a path prefix too: the page at
 * `<base>/docs` loads `<base>/docs/<file>` and `<base>/openapi.json`.
 */

export interface DocsAsset {
  /** The file's name: its path under `/docs/`, and its name beside a Lambda bundle. */
  fileName: string;
  /** What Node resolves when the file is not beside the running module (the local stack, tests). */
  specifier: string;
  contentType: string;
}

/** The viewer's files (swagger-ui-dist), read once per process. */
export const DOCS_ASSETS: readonly DocsAsset[] = [
  {
    fileName: 'swagger-ui-bundle.js',
    specifier: 'swagger-ui-dist/swagger-ui-bundle.js',
    contentType: 'text/javascript; charset=utf-8',
  },
  {
    fileName: 'swagger-ui.css',
    specifier: 'swagger-ui-dist/swagger-ui.css',
    contentType: 'text/css; charset=utf-8',
  },
  { fileName: 'favicon-32x32.png', specifier: 'swagger-ui-dist/favicon-32x32.png', contentType: 'image/png' },
];

/** The page's own script (inline scripts are refused by the page's CSP). */
export const INIT_SCRIPT_NAME = 'docs-init.js';

/**
 * Only this origin: no inline script, no other host. `data:` images are the stylesheet's own
 * icons (swagger-ui.css embeds them as data URIs); inline `style` attributes are refused too.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MakeIt3D BFF API</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/${INIT_SCRIPT_NAME}"></script>
</body>
</html>
`;

/**
 * Swagger UI with the document beside the page (`openapi.json`, relative to it), no validator
 * badge (it would call an outside host), and "Try it out" sending requests to this API.
 */
export const DOCS_INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
  persistAuthorization: false,
  displayRequestDuration: true,
});
`;

const moduleRequire = createRequire(import.meta.url);

/** Absolute paths of the viewer's files in node_modules (build time: the stack copies them beside the bundle). */
export function docsAssetFiles(): string[] {
  return DOCS_ASSETS.map((asset) => moduleRequire.resolve(asset.specifier));
}

const SOURCE_MAP_COMMENT = /\n\/\/# sourceMappingURL=[^\n]*\n?$/;

/**
 * A viewer file's bytes: beside the running module (a Lambda bundle), else from node_modules.
 * The source map comment is dropped: the map is not served.
 */
export function readDocsAsset(asset: DocsAsset): Buffer {
  const besideModule = path.join(path.dirname(fileURLToPath(import.meta.url)), asset.fileName);
  let bytes: Buffer;
  try {
    bytes = readFileSync(besideModule);
  } catch {
    bytes = readFileSync(moduleRequire.resolve(asset.specifier));
  }
  if (asset.contentType.startsWith('text/javascript')) {
    return Buffer.from(bytes.toString('utf8').replace(SOURCE_MAP_COMMENT, '\n'), 'utf8');
  }
  return bytes;
}
