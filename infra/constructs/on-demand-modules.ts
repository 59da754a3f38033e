import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, build } from 'esbuild';

/**
 * Packages the AWS SDK loads only when it needs them, and which the bundles therefore leave out
 * and load from a bundle of their own beside `index.js` (`node_modules/<package>/index.js`).
 *
 * Every AWS SDK client resolves credentials through `@aws-sdk/credential-provider-node`'s
 * `defaultProvider`, which tries the environment's variables first and imports each other
 * source with `await import(...)` only when it gets to it (`dist-es/defaultProvider.js` and
 * `remoteProvider.js`, @aws-sdk/credential-provider-node 3.972.99, read 2026-12-02): SSO, the
 * shared config files (with assume-role through STS), `credential_process`, web identity, and the
 * container/instance metadata endpoints. esbuild would put all of them into every bundle that
 * has a client (≈ 135 KiB, with the STS, SSO-OIDC and sign-in clients they bring), to be
 * compiled at every cold start: on Lambda the chain stops at the first link, since the runtime
 * sets the function role's credentials in the environment. Left out of the bundle, the chain is
 * unchanged: the same sources in the same order, each one loaded when it is reached, which is
 * what the SDK's own `import()`s were written for. `npm run bench:cold-start` measures what it
 * saves (README, Benchmarks); test/infra/credential-sources.test.ts runs a bundle against every
 * source. The SDK's `import()` resolves as an ES module import, which never consults NODE_PATH:
 * a module missing beside the bundle fails the chain, and is never replaced by the copy of the
 * SDK that the Lambda runtime carries.
 *
 * Only packages that the bundles reach through `import()` belong here: a static import would load
 * the package at start anyway (test/infra/bundle-budgets.test.ts checks this for every function).
 */
export const ON_DEMAND_MODULES = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@smithy/credential-provider-imds',
  '@aws-sdk/credential-provider-http',
] as const;

/** Where a bundle finds an on-demand module: Node's own resolution from the bundle's directory. */
export function onDemandModuleFile(outputDir: string, name: string): string {
  return path.join(outputDir, 'node_modules', ...name.split('/'), 'index.js');
}

/** The on-demand modules whose name a bundle's code holds, so a function without them carries none. */
export function onDemandModulesNamedIn(bundleText: string): string[] {
  return ON_DEMAND_MODULES.filter((name) => bundleText.includes(JSON.stringify(name)));
}

/**
 * esbuild's options for one on-demand module: its package (resolved from the project root, where
 * the lock file installs a single copy of each; the budget test checks that) bundled as CommonJS with
 * the functions' own settings, the other on-demand modules left out in turn (the shared config
 * file source reaches SSO, `credential_process`, web identity and the metadata endpoints itself).
 */
function onDemandModuleOptions(name: string, outputDir: string, settings: BundleBaseOptions): BuildOptions {
  return {
    ...settings,
    stdin: {
      contents: `export * from ${JSON.stringify(name)};`,
      resolveDir: settings.absWorkingDir,
      loader: 'js',
    },
    outfile: onDemandModuleFile(outputDir, name),
    bundle: true,
    platform: 'node',
    external: ON_DEMAND_MODULES.filter((other) => other !== name),
    logLevel: 'error',
  };
}

/**
 * The settings an on-demand module is bundled with: the functions' own (bundling.ts), and their
 * project root (`absWorkingDir`), whose node_modules the packages come from.
 */
export type BundleBaseOptions = Pick<
  BuildOptions,
  | 'format'
  | 'target'
  | 'mainFields'
  | 'banner'
  | 'define'
  | 'minify'
  | 'keepNames'
  | 'sourcemap'
  | 'sourcesContent'
> & { absWorkingDir: string };

/**
 * Builds, beside the bundle in `outputDir` (`index.js`), every on-demand module its code names and
 * those that these name in turn, each with a package.json that makes it CommonJS whatever
 * package.json lies above.
 */
export async function buildOnDemandModules(outputDir: string, settings: BundleBaseOptions): Promise<void> {
  const built = new Set<string>();
  const pending = onDemandModulesNamedIn(readFileSync(path.join(outputDir, 'index.js'), 'utf8'));
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (built.has(name)) continue;
    const file = onDemandModuleFile(outputDir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    await build(onDemandModuleOptions(name, outputDir, settings));
    writeFileSync(
      path.join(path.dirname(file), 'package.json'),
      `${JSON.stringify({ name, version: installedVersion(settings.absWorkingDir, name), type: 'commonjs', main: 'index.js' })}\n`,
    );
    built.add(name);
    pending.push(...onDemandModulesNamedIn(readFileSync(file, 'utf8')));
  }
}

/** The version of `name` installed at the top level of `root` (the copy bundled). */
export function installedVersion(root: string, name: string): string {
  const manifest = path.join(root, 'node_modules', ...name.split('/'), 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}
