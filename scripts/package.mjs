// `npm run package`: one VSIX per platform (vsce package --target). Each is staged in its
// own folder holding only what runs: the bundles, the CLI entry, media, models, and the
// native runtimes' files for that platform (onnxruntime-node's binaries for the target,
// LanceDB's platform package). A platform package that is not installed here is fetched
// with `npm pack` (the npm registry only); a target whose natives cannot be had is skipped
// with the reason, never shipped broken.
//
//   node scripts/package.mjs [--target linux-x64|darwin-arm64|win32-x64 ...] [--no-fetch] [--out DIR]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({ options: { target: { type: 'string', multiple: true }, out: { type: 'string' }, 'no-fetch': { type: 'boolean', default: false } } });

/** Per target: onnxruntime-node's binary folder and LanceDB's platform package. */
const TARGETS = {
  'linux-x64': { ort: 'linux/x64', lance: '@lancedb/lancedb-linux-x64-gnu' },
  'darwin-arm64': { ort: 'darwin/arm64', lance: '@lancedb/lancedb-darwin-arm64' },
  'win32-x64': { ort: 'win32/x64', lance: '@lancedb/lancedb-win32-x64-msvc' },
};
/** Loaded by the bundles at run time (scripts/build.mjs keeps them external). */
const RUNTIME = ['@lancedb/lancedb', 'apache-arrow', 'onnxruntime-node', 'web-tree-sitter', 'tree-sitter-wasms'];
/** Dependencies only their install scripts or optional features use. */
const SKIP = new Set(['adm-zip', 'global-agent', 'openai', '@huggingface/transformers']);
/** The grammars the chunker loads (src/core/chunk). */
const GRAMMARS = ['c', 'c_sharp', 'cpp', 'go', 'java', 'javascript', 'php', 'python', 'ruby', 'rust', 'tsx', 'typescript'];

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outDir = resolve(values.out ?? join(root, 'dist', 'vsix'));
const nativesCache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'engram-natives');
const targets = values.target ?? Object.keys(TARGETS);
mkdirSync(outDir, { recursive: true });
if (!existsSync(join(root, 'dist', 'extension.js')) || !existsSync(join(root, 'dist', 'webview', 'sidebar.js'))) {
  console.error('package: run `npm run build` first');
  process.exit(1);
}

const results = [];
for (const target of targets) {
  const spec = TARGETS[target];
  if (!spec) {
    console.error(`package: unknown target ${target} (known: ${Object.keys(TARGETS).join(', ')})`);
    process.exit(1);
  }
  const missing = [];
  const ortDir = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', spec.ort);
  if (!existsSync(ortDir)) missing.push(`onnxruntime-node binaries for ${spec.ort}`);
  const lanceDir = lancePackage(spec.lance, missing);
  if (missing.length) {
    console.error(`package: ${target} skipped: missing ${missing.join('; ')}`);
    results.push({ target, skipped: missing.join('; ') });
    continue;
  }
  const stage = join(tmpdir(), `engram-vsix-${target}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  stageFiles(stage, target, spec, ortDir, lanceDir);
  const file = join(outDir, `engram-${target}-${pkg.version}.vsix`);
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(process.execPath, [vsce, 'package', '--target', target, '--no-dependencies', '--skip-license', '--allow-missing-repository', '--ignoreFile', join(root, '.vscodeignore'), '--out', file], {
    cwd: stage,
    encoding: 'utf8',
    input: 'y\n',
  });
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    process.exit(1);
  }
  rmSync(stage, { recursive: true, force: true });
  const bytes = statSync(file).size;
  results.push({ target, file, bytes });
  console.log(`package: ${target}: ${file} (${(bytes / 1e6).toFixed(1)} MB)`);
}
writeFileSync(join(outDir, 'report.json'), JSON.stringify(results, null, 2) + '\n');
if (!results.some((r) => r.file)) process.exit(1);

/**
 * models/ as shipped: for a model whose manifest entry lists its files, only those (and its
 * model card), so exports kept beside it for comparison stay out; other folders whole.
 */
function shippedModelFile() {
  const manifestPath = join(root, 'models', 'manifest.json');
  if (!existsSync(manifestPath)) return () => true;
  const allowed = new Map();
  for (const m of JSON.parse(readFileSync(manifestPath, 'utf8')).models ?? []) {
    if (Array.isArray(m.files) && m.files.length) allowed.set(resolve(root, 'models', m.path), new Set([...m.files.map((f) => f.path), 'README.md']));
  }
  return (src) => {
    for (const [dir, files] of allowed) {
      if (src === dir) return true;
      if (src.startsWith(dir + '/')) {
        const rel = src.slice(dir.length + 1);
        return files.has(rel) || [...files].some((f) => f.startsWith(rel + '/'));
      }
    }
    return true;
  };
}

/** The platform package's folder: installed, cached, or fetched with npm pack. */
function lancePackage(name, missing) {
  const installed = join(root, 'node_modules', name);
  if (existsSync(installed)) return installed;
  const version = JSON.parse(readFileSync(join(root, 'node_modules', '@lancedb', 'lancedb', 'package.json'), 'utf8')).version;
  const base = `${name.replace('@', '').replace('/', '-')}-${version}`;
  const unpacked = join(nativesCache, base, 'package');
  if (existsSync(unpacked)) return unpacked;
  if (values['no-fetch']) {
    missing.push(`${name}@${version} (not installed; run without --no-fetch to get it with npm pack)`);
    return null;
  }
  mkdirSync(join(nativesCache, base), { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['pack', `${name}@${version}`, '--pack-destination', join(nativesCache, base)], { encoding: 'utf8' });
  const tgz = join(nativesCache, base, `${base}.tgz`);
  if (r.status !== 0 || !existsSync(tgz)) {
    const lines = (r.stderr || r.stdout || '').split('\n');
    const why = lines.find((l) => /No matching version|404/i.test(l)) ?? lines.find((l) => /error/i.test(l)) ?? 'no output';
    missing.push(`${name}@${version} (npm pack: ${why.replace(/^npm error /, '').trim()})`);
    return null;
  }
  const x = spawnSync('tar', ['xzf', tgz, '-C', join(nativesCache, base)], { encoding: 'utf8' });
  rmSync(tgz, { force: true });
  if (x.status !== 0 || !existsSync(unpacked)) {
    missing.push(`${name}@${version} (could not unpack)`);
    return null;
  }
  return unpacked;
}

function stageFiles(stage, target, spec, ortDir, lanceDir) {
  const manifest = { ...pkg };
  delete manifest.devDependencies;
  delete manifest.scripts;
  delete manifest.private;
  manifest.dependencies = Object.fromEntries(Object.entries(pkg.dependencies ?? {}).filter(([n]) => RUNTIME.includes(n)));
  writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  const copy = (from, to = from, filter) => cpSync(join(root, from), join(stage, to), { recursive: true, filter: filter ?? (() => true) });
  const noMaps = (src) => !src.endsWith('.map');
  copy('dist/cli.js');
  copy('dist/extension.js');
  copy('dist/webview', 'dist/webview', noMaps);
  copy('bin');
  copy('media');
  if (existsSync(join(root, 'models'))) copy('models', 'models', shippedModelFile());
  for (const f of ['README.md', 'LICENSE']) if (existsSync(join(root, f))) copy(f);
  if (existsSync(join(root, 'docs', 'extension.md'))) cpSync(join(root, 'docs', 'extension.md'), join(stage, 'README.md'));

  // The runtime dependency closure, each package once (nested node_modules come along), in
  // dist/node_modules: the bundles resolve it from there, and vsce's --no-dependencies mode
  // (no npm run in the stage) skips only a top-level node_modules.
  const seen = new Set();
  const queue = [...RUNTIME];
  while (queue.length) {
    const name = queue.shift();
    if (seen.has(name) || SKIP.has(name)) continue;
    seen.add(name);
    const dir = join(root, 'node_modules', name);
    if (!existsSync(dir)) continue; // an optional dependency not installed
    const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const dest = join(stage, 'dist', 'node_modules', name);
    if (name === 'onnxruntime-node') {
      // Only this target's binaries (each platform's are tens of MB).
      cpSync(dir, dest, { recursive: true, filter: (src) => !src.includes(`${join(dir, 'bin')}`) });
      cpSync(ortDir, join(dest, 'bin', 'napi-v6', spec.ort), { recursive: true });
    } else if (name === 'tree-sitter-wasms') {
      mkdirSync(join(dest, 'out'), { recursive: true });
      cpSync(join(dir, 'package.json'), join(dest, 'package.json'));
      for (const g of GRAMMARS) cpSync(join(dir, 'out', `tree-sitter-${g}.wasm`), join(dest, 'out', `tree-sitter-${g}.wasm`));
    } else {
      cpSync(dir, dest, { recursive: true });
    }
    for (const dep of Object.keys(p.dependencies ?? {})) queue.push(dep);
  }
  // LanceDB's native addon for the target (installed or fetched).
  cpSync(lanceDir, join(stage, 'dist', 'node_modules', spec.lance), { recursive: true });
  // Other platforms' LanceDB packages that npm happened to install here stay out.
  for (const other of readdirSync(join(stage, 'dist', 'node_modules', '@lancedb'))) {
    if (other.startsWith('lancedb-') && `@lancedb/${other}` !== spec.lance) rmSync(join(stage, 'dist', 'node_modules', '@lancedb', other), { recursive: true, force: true });
  }
  void target;
}
