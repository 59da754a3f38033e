#!/usr/bin/env node
// The `makeit3d` command. The CLI is TypeScript run as it is: Node 22.18 and later strip the
// types themselves (`npx makeit3d` in this repository runs the pinned Node 22).
if (!process.features?.typescript) {
  process.stderr.write(
    `makeit3d needs Node 22.18 or later (it runs TypeScript directly); this is Node ${process.versions.node}. ` +
      'Run it with npx from the repository, which uses the pinned Node 22.\n',
  );
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
