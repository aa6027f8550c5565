// `npm run bench:index [-- --set medium|10m|demo] [--edits 50] [--compressor NAME|DIR|none] [--skip-live]`
// Indexing benchmark on real third-party code: cold index throughput, peak RSS,
// store size per source byte, save-to-searchable latency and branch-switch
// convergence, all through the real CLI and JSON-RPC server, with the engine's default
// compressor (the shipped learned one). The same corpus is also cold-indexed with
// --compressor (default `structural`, the rules; `none` skips it) into its own store, and
// both compressors' throughput and compression ratio are shown side by side.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as lancedb from '@lancedb/lancedb';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import { corpus } from './corpus.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'engram.js');
const { values: args } = parseArgs({
  options: {
    set: { type: 'string', default: 'medium' },
    edits: { type: 'string', default: '50' },
    'skip-live': { type: 'boolean', default: false },
    compressor: { type: 'string', default: 'structural' },
  },
});

const tmp = mkdtempSync(join(tmpdir(), 'engram-bench-'));
const repo = join(tmp, 'repo');
const store = join(tmp, 'store');
try {
  cpSync(corpus(args.set), repo, { recursive: true });
  const cold = await coldIndex(store);
  const status = JSON.parse(execFileSync(process.execPath, [CLI, 'status', '--json', '--repo', repo, '--store', store], { encoding: 'utf8' }));
  const indexedBytes = status.sourceBytes;
  const warm = await timed(() => runCli(['index', '--json', '--quiet', '--repo', repo, '--store', store]));
  const rows = [
    ['corpus', `${args.set} (${status.files} files, ${fmt(status.tokens)} tokens, ${fmt(indexedBytes)}B indexed source)`],
    ['cold index', coldLine(status, cold)],
    ['compression', await ratioLine(store)],
    ['peak RSS (cold index)', `${cold.peakRssMb.toFixed(0)} MB`],
    ['store size', `${fmt(status.storeBytes)}B = ${(status.storeBytes / indexedBytes).toFixed(3)}x indexed source bytes`],
    ['no-op re-index', `${(warm.ms / 1000).toFixed(2)} s`],
    ['skipped', JSON.stringify(status.skipped)],
  ];
  // Before the live part, which edits the corpus and switches branches.
  const other = args.compressor !== 'none' ? await otherRows(args.compressor) : [];
  if (!args['skip-live']) rows.push(...(await live(Number(args.edits))));
  console.log("\nEngram index benchmark (the engine's default compressor)");
  for (const [k, v] of rows) console.log(`  ${k.padEnd(28)} ${v}`);
  if (other.length) {
    console.log(`\nThe same corpus with --compressor ${args.compressor} (cold index, own store, same machine)`);
    for (const [k, v] of other) console.log(`  ${k.padEnd(28)} ${v}`);
  }
  console.log(`  targets: >= 2M tokens/min cold with the structural compressor, >= 1M with the learned one; <= 1 s p95 save-to-searchable; <= 0.5x store; <= 1 GB peak RSS at 10M tokens`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

async function coldIndex(storeDir, extra = []) {
  const started = Date.now();
  const { stdout, stderr, peakRssMb } = await runCli(['index', '--json', '--quiet', '--repo', repo, '--store', storeDir, ...extra]);
  return { ms: Date.now() - started, report: JSON.parse(stdout), stderr, peakRssMb };
}

function coldLine(status, cold) {
  return `${fmt((status.tokens / cold.ms) * 60000)} tokens/min · ${((cold.report.filesIndexed / cold.ms) * 1000).toFixed(0)} files/s · ${(cold.ms / 1000).toFixed(1)} s`;
}

/** Compressed/raw tokens over the store's blocks (the compressors' own token measure), and their id. */
async function ratioLine(storeDir) {
  const db = await lancedb.connect(storeDir);
  const table = await db.openTable('blocks');
  let raw = 0;
  let kept = 0;
  const models = new Set();
  for (const row of await table.query().select(['tokens', 'compressedTokens', 'model']).toArray()) {
    raw += Number(row.tokens);
    kept += Number(row.compressedTokens);
    models.add(row.model);
  }
  table.close();
  db.close();
  return `${[...models].join(', ')}: ${fmt(kept)} of ${fmt(raw)} tokens kept = ratio ${(raw / Math.max(kept, 1)).toFixed(2)} (${((100 * kept) / Math.max(raw, 1)).toFixed(1)}%)`;
}

/** Cold index with another compressor into its own store. */
async function otherRows(compressor) {
  const otherStore = join(tmp, 'store-other');
  const cold = await coldIndex(otherStore, ['--compressor', compressor]);
  const fellBack = /warning: compressor/.test(cold.stderr);
  const status = JSON.parse(execFileSync(process.execPath, [CLI, 'status', '--json', '--repo', repo, '--store', otherStore, '--compressor', compressor], { encoding: 'utf8' }));
  return [
    ['cold index', coldLine(status, cold) + (fellBack ? ' (the model did not load: structural ran)' : '')],
    ['compression', await ratioLine(otherStore)],
    ['peak RSS (cold index)', `${cold.peakRssMb.toFixed(0)} MB`],
    ['store size', `${fmt(status.storeBytes)}B = ${(status.storeBytes / status.sourceBytes).toFixed(3)}x indexed source bytes`],
  ];
}

/** Runs the CLI, sampling its peak RSS (VmHWM) from /proc while it runs. */
function runCli(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {}
    }, 50);
    child.on('exit', (code) => {
      clearInterval(poll);
      if (code === 0) resolve({ stdout, stderr, peakRssMb: peak });
      else reject(new Error(`engram ${argv.join(' ')} exited ${code}`));
    });
  });
}

async function timed(fn) {
  const started = Date.now();
  const result = await fn();
  return { ...result, ms: Date.now() - started };
}

/** Save-to-searchable latency and branch-switch convergence through `serve --stdio`. */
async function live(edits) {
  execFileSync('git', ['init', '-q'], { cwd: repo });
  execFileSync('git', ['-c', 'user.email=b@e', '-c', 'user.name=bench', 'add', '-A'], { cwd: repo });
  execFileSync('git', ['-c', 'user.email=b@e', '-c', 'user.name=bench', 'commit', '-qm', 'a'], { cwd: repo });
  const server = spawn(process.execPath, [CLI, 'serve', '--stdio', '--repo', repo, '--store', store], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rpc = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  rpc.listen();
  try {
    await rpc.sendRequest('index', {});
    await rpc.sendRequest('watch', { enabled: true });
    // Edit only files the engine indexed (not minified, generated or too large).
    const indexed = async (f) => rpc.sendRequest('inspect', { target: `${f}:1` }).then(() => true, () => false);
    const files = [];
    for (const f of listFiles(repo).filter((f) => /\.(js|ts|mjs)$/.test(f))) {
      if (files.length >= 1000) break;
      if (await indexed(f)) files.push(f);
    }
    const latencies = [];
    for (let i = 0; i < edits; i++) {
      const file = files[(i * 7919) % files.length];
      const marker = uniqueWord();
      const line = readFileSync(join(repo, file), 'utf8').split('\n').length + 1;
      const started = Date.now();
      appendFileSync(join(repo, file), `\nexport const ${marker} = ${i};\n`);
      const found = async () => (await rpc.sendRequest('search', { query: marker, k: 3 })).results.some((r) => r.path === file && r.startLine <= line && line <= r.endLine);
      latencies.push(await until(found, started));
    }
    latencies.sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];

    // Branch B: 500 files changed, 200 deleted, 200 added. It is made with the watcher
    // off, the store is synced to master, then the watcher sees the switch to B.
    await rpc.sendRequest('watch', { enabled: false });
    execFileSync('git', ['-c', 'user.email=b@e', '-c', 'user.name=bench', 'commit', '-qam', 'edits'], { cwd: repo });
    execFileSync('git', ['checkout', '-qb', 'b'], { cwd: repo });
    const marker = uniqueWord();
    files.slice(0, 500).forEach((f) => appendFileSync(join(repo, f), `\nexport const ${marker} = 1;\n`));
    files.slice(500, 700).forEach((f) => unlinkSync(join(repo, f)));
    const lastWord = uniqueWord();
    for (let i = 0; i < 200; i++) writeFileSync(join(repo, `added_${i}.js`), `export function ${i === 199 ? lastWord : uniqueWord()}() { return ${i}; }\n`);
    execFileSync('git', ['add', '-A'], { cwd: repo });
    execFileSync('git', ['-c', 'user.email=b@e', '-c', 'user.name=bench', 'commit', '-qm', 'b'], { cwd: repo });
    execFileSync('git', ['checkout', '-q', 'master'], { cwd: repo });
    await rpc.sendRequest('index', {});
    const filesOnMaster = (await rpc.sendRequest('status', {})).files;
    await rpc.sendRequest('watch', { enabled: true });
    const hasLast = async () => (await rpc.sendRequest('search', { query: lastWord, k: 3 })).results.some((r) => r.path === 'added_199.js');
    const started = Date.now();
    execFileSync('git', ['checkout', '-q', 'b'], { cwd: repo });
    const converge = await until(async () => {
      if (!(await hasLast())) return false;
      const s = await rpc.sendRequest('status', {});
      const changed = (await rpc.sendRequest('search', { query: marker, k: 600 })).results.filter((r) => files.slice(0, 500).includes(r.path));
      return s.files === filesOnMaster && new Set(changed.map((r) => r.path)).size === 500;
    }, started);
    return [
      ['save-to-searchable', `p50 ${q(0.5)} ms · p95 ${q(0.95)} ms over ${edits} edits`],
      ['branch switch (900 files)', `${converge} ms to converge`],
    ];
  } finally {
    rpc.dispose();
    server.kill();
  }
}

async function until(check, started, timeoutMs = 120_000) {
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting for the store to converge');
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

function listFiles(dir, base = '') {
  const out = [];
  for (const e of readdirSync(join(dir, base), { withFileTypes: true })) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.name === '.git' || e.name === 'node_modules' || e.name === 'dist' || e.name === 'build') continue;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

function fmt(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return `${Math.round(n)}`;
}

/** A fresh lowercase word: one search term (digits or case changes would split it). */
function uniqueWord() {
  return Array.from({ length: 14 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
}
