// Long-context QA over real third-party code (pinned npm packages, bench/corpus.mjs):
// nested contexts of growing size (each a prefix of one seeded file order), and
// RULER-style questions drawn from each context whose answers are unique in it.
// Kinds follow training/engram_training/qa (constant values and definition sites).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { seededRandom } from '../src/core/models/sampling.ts';
import { countTokens } from '../src/core/tokens.ts';
import { corpus } from './corpus.mjs';

/** Source folders of the `medium` set: the code itself, not bundles or type stubs. */
const ROOTS = ['eslint_9.39.1/lib', 'webpack_5.101.3/lib', 'rxjs_7.8.2/src'];
const EXT = /\.(m?js|cjs|ts)$/;

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (EXT.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every source file in a seeded order with its text and token count. */
export function sourceFiles() {
  const root = corpus('medium');
  const files = ROOTS.flatMap((r) => walk(join(root, r)))
    .sort()
    .map((abs) => {
      const text = readFileSync(abs, 'utf8');
      return { abs, path: relative(root, abs).split('\\').join('/'), text, tokens: countTokens(text) };
    })
    // The engine skips minified and oversized files; so does the benchmark.
    .filter((f) => f.text.length < 400_000 && f.text.split('\n').every((l) => l.length < 1000));
  const next = seededRandom(7);
  for (let i = files.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [files[i], files[j]] = [files[j], files[i]];
  }
  return files;
}

// Top-level only: a constant of the module, not a local variable.
const CONST = /^(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]{3,})\s*=\s*(-?\d+(?:\.\d+)?|'[^'\\]{1,40}'|"[^"\\]{1,40}")\s*;?\s*(?:\/\/.*)?$/;
const FUNC = /^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]{5,})\s*\(/;
const CLASS = /^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]{4,})\b/;

/** Questions whose answers are unique in `files`, spread evenly over the context. */
export function questionsFor(files, n, seed) {
  const assigns = new Map();
  const defs = new Map();
  const cands = [];
  for (const f of files) {
    f.text.split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/([A-Za-z_$][\w$]*)\s*=(?![=>])/g)) assigns.set(m[1], (assigns.get(m[1]) ?? 0) + 1);
      const fn = FUNC.exec(line);
      const d = fn ?? CLASS.exec(line);
      if (d) defs.set(d[1], (defs.get(d[1]) ?? 0) + 1);
      const c = CONST.exec(line);
      if (c) cands.push({ kind: 'constant', name: c[1], value: c[2].replace(/^['"]|['"]$/g, ''), path: f.path, line: i + 1 });
      else if (d) cands.push({ kind: 'definition', what: fn ? 'function' : 'class', name: d[1], path: f.path, line: i + 1 });
    });
  }
  const ok = cands.filter((c) =>
    c.kind === 'constant' ? assigns.get(c.name) === 1 && !defs.has(c.name) && c.value.trim() !== '' : defs.get(c.name) === 1 && !assigns.has(c.name),
  );
  // Half constants, half definitions, each spread over the whole context.
  const pick = (list, k) => {
    if (list.length <= k) return list;
    const next = seededRandom(seed);
    const step = list.length / k;
    return Array.from({ length: k }, (_, i) => list[Math.min(list.length - 1, Math.floor(i * step + next() * step))]);
  };
  const consts = pick(ok.filter((c) => c.kind === 'constant'), Math.ceil(n / 2));
  const definitions = pick(ok.filter((c) => c.kind === 'definition'), n - consts.length);
  return [...consts, ...definitions].map((c, i) => ({
    id: `${c.kind}-${i + 1}`,
    kind: c.kind,
    question: c.kind === 'constant' ? `What is the value of the constant \`${c.name}\`?` : `Where is the ${c.what} \`${c.name}\` defined?`,
    answer: c.kind === 'constant' ? c.value : c.path,
    evidence: [{ path: c.path, startLine: c.line, endLine: c.line }],
  }));
}

/**
 * Writes the context of about `tokens` tokens into `dir`/repo (a prefix of the file order)
 * and its QA into `dir`/qa.jsonl; cached by a marker file.
 */
export function buildContext(files, tokens, questions, dir) {
  const marker = join(dir, `.done-${questions}`);
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  const chosen = [];
  let total = 0;
  for (const f of files) {
    if (total >= tokens) break;
    if (total + f.tokens > tokens * 1.15 && total > 0) continue;
    chosen.push(f);
    total += f.tokens;
  }
  for (const f of chosen) {
    const to = join(dir, 'repo', f.path);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(f.abs, to);
  }
  const qa = questionsFor(chosen, questions, tokens);
  writeFileSync(join(dir, 'qa.jsonl'), qa.map((q) => JSON.stringify(q)).join('\n') + '\n');
  const info = { files: chosen.length, tokens: total, questions: qa.length };
  writeFileSync(marker, JSON.stringify(info));
  return info;
}

/**
 * The context bench:ask uses at `label` (`128k`, `1.75m`), built and indexed with `cli` (bin/engram.js)
 * for the benchmarks that ask their own questions of it: its tokens, repo, store and source files.
 */
export function indexedContext(label, cli, here) {
  const tokens = Math.round(parseFloat(label) * (label.endsWith('m') ? 1e6 : 1e3));
  const dir = join(here, '.work', 'ask', label.toLowerCase());
  // The files are the same whatever number of questions bench:ask drew last: keep its context.
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.startsWith('.done-'))) buildContext(sourceFiles(), tokens, 12, dir);
  const repo = join(dir, 'repo');
  const store = join(dir, 'store');
  execFileSync(process.execPath, [cli, 'index', '--repo', repo, '--store', store], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { tokens, repo, store, files: sourceFiles().filter((f) => existsSync(join(repo, f.path))) };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
export const round = (x) => Math.round(x * 100) / 100;
