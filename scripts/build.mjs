// Builds the server (src/ → dist/) and the dashboard (web/ → dist/web/) with esbuild.
// `--if-stale` skips the work when dist/ is newer than every source file (used by `npm start`).
import { build } from 'esbuild';
import { readdirSync, statSync, mkdirSync, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.stamp');

function files(dir, exts) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => exts.some((e) => f.endsWith(e)) && statSync(f).isFile());
}

const serverEntries = files(join(root, 'src'), ['.ts']);
const webAssets = files(join(root, 'web'), ['.html', '.css', '.svg', '.png', '.ico']);
const webSources = files(join(root, 'web'), ['.ts']);

if (process.argv.includes('--if-stale') && existsSync(stamp)) {
  const built = statSync(stamp).mtimeMs;
  const sources = [...serverEntries, ...webAssets, ...webSources, join(root, 'package.json')];
  if (sources.every((f) => statSync(f).mtimeMs <= built)) process.exit(0);
}

await build({
  entryPoints: serverEntries,
  outdir: join(root, 'dist'),
  outbase: join(root, 'src'),
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});

const webEntry = join(root, 'web', 'src', 'main.ts');
if (existsSync(webEntry)) {
  await build({
    entryPoints: [webEntry],
    outfile: join(root, 'dist', 'web', 'app.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    sourcemap: true,
    logLevel: 'warning',
  });
}
for (const asset of webAssets) {
  const out = join(root, 'dist', 'web', relative(join(root, 'web'), asset).replace(/^static[/\\]/, ''));
  mkdirSync(join(out, '..'), { recursive: true });
  copyFileSync(asset, out);
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(stamp, new Date().toISOString() + '\n');
