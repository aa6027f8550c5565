// `npm run bench:uses`: "who calls X?" over real third-party code (the contexts of bench:ask),
// against a ground truth from the parser, not from the engine's own line rules. For functions
// defined once in a context and called from several places, tree-sitter lists their call
// sites (call expressions whose callee is the bare name) and every reference to the name (not
// its declaration, imports, exports, comments or strings). The engine is asked "Where is `X`
// called?" in gated mode; a text search for the word (what `grep -w` gives) is the baseline.
// Writes bench/uses-results.json and bench/USES.md.
//
//   node --import tsx bench/uses.mjs [--sizes 128k,1750k] [--names 16]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Language, Parser } from 'web-tree-sitter';
import { grammarWasmPath } from '../src/core/chunk/grammars.ts';
import { seededRandom } from '../src/core/models/sampling.ts';
import { indexedContext, median, round } from './ask-qa.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(resolve(HERE, '..'), 'bin', 'engram.js');
const { values } = parseArgs({ options: { sizes: { type: 'string', default: '128k,1750k' }, names: { type: 'string', default: '16' } } });

await Parser.init();
const grammars = {
  javascript: await Language.load(grammarWasmPath('javascript')),
  typescript: await Language.load(grammarWasmPath('typescript')),
};
const parser = new Parser();

// Where an identifier names what is declared, imported or exported, not a use of it.
const DECLARES = new Set(['function_declaration', 'generator_function_declaration', 'class_declaration', 'method_definition', 'function_signature']);
const IMPORTS = new Set(['import_statement', 'import_specifier', 'export_specifier', 'export_clause', 'namespace_import']);

function isRequire(node) {
  return node?.type === 'call_expression' && node.childForFieldName('function')?.text === 'require';
}

/** Where `node` (an identifier) sits: a declaration's or import's name, or a use; a call when it is a call's callee. */
function roleOf(node) {
  const parent = node.parent;
  if (!parent) return 'use';
  if (DECLARES.has(parent.type) && parent.childForFieldName('name')?.id === node.id) return 'declaration';
  if (parent.type === 'variable_declarator' && parent.childForFieldName('name')?.id === node.id) return 'declaration';
  for (let p = parent; p; p = p.parent) {
    if (IMPORTS.has(p.type)) return 'import';
    // `const { f } = require('./m')`: an import in CommonJS.
    if (p.type === 'variable_declarator' && p.childForFieldName('name')?.type === 'object_pattern' && isRequire(p.childForFieldName('value'))) return 'import';
    if (p.type === 'statement_block' || p.type === 'program') break;
  }
  if (parent.type === 'call_expression' && parent.childForFieldName('function')?.id === node.id) return 'call';
  return 'use';
}

/** Per name: its declarations, and the lines calling or otherwise using it, per file. */
function parseContext(files) {
  const names = new Map();
  const entry = (n) => names.get(n) ?? names.set(n, { declarations: [], calls: new Set(), uses: new Set() }).get(n);
  for (const f of files) {
    parser.setLanguage(f.path.endsWith('.ts') ? grammars.typescript : grammars.javascript);
    const tree = parser.parse(f.text);
    const stack = [tree.rootNode];
    while (stack.length) {
      const node = stack.pop();
      if (node.type === 'identifier') {
        const role = roleOf(node);
        const at = `${f.path}:${node.startPosition.row + 1}`;
        const e = entry(node.text);
        if (role === 'declaration') {
          if (node.parent.type === 'function_declaration') e.declarations.push(at);
          else e.declarations.push(`other ${at}`);
        } else if (role === 'call') {
          e.calls.add(at);
          e.uses.add(at);
        } else if (role === 'use') e.uses.add(at);
      }
      for (let i = node.childCount - 1; i >= 0; i--) stack.push(node.child(i));
    }
    tree.delete();
  }
  return names;
}

/** Call counts of the functions picked: as many from each range (most functions have two or three callers). */
const CALL_RANGES = [
  [2, 3],
  [4, 7],
  [8, 15],
  [16, 31],
  [32, Infinity],
];

/** Functions declared once (and nothing else of the name), called from 2 or more lines: `n` of them, spread over CALL_RANGES. */
function pickNames(names, n, seed) {
  const ok = [...names.entries()]
    .filter(([name, e]) => name.length >= 5 && e.declarations.length === 1 && !e.declarations[0].startsWith('other') && e.calls.size >= 2)
    .sort((a, b) => a[0].localeCompare(b[0]));
  const next = seededRandom(seed);
  const ranges = CALL_RANGES.map(([lo, hi]) => ok.filter(([, e]) => e.calls.size >= lo && e.calls.size <= hi)).filter((r) => r.length);
  const out = [];
  for (let i = 0; out.length < n && ranges.some((r) => r.length); i++) {
    const r = ranges[i % ranges.length];
    if (r.length) out.push(...r.splice(Math.floor(next() * r.length), 1));
  }
  return out;
}

/** Lines holding the name as a whole word: a text search's answer. */
function wordLines(files, name) {
  const word = new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`);
  const out = [];
  for (const f of files) f.text.split('\n').forEach((l, i) => word.test(l) && out.push(`${f.path}:${i + 1}`));
  return out;
}

/** The share of `part` that is in `whole` (1 for nothing). */
const share = (part, whole) => (part.length ? part.filter((x) => whole.includes(x)).length / part.length : 1);

const rows = [];
for (const label of values.sizes.split(',')) {
  const { tokens, repo, store, files } = indexedContext(label, CLI, HERE);
  const names = parseContext(files);
  for (const [name, truth] of pickNames(names, Number(values.names), tokens)) {
    const t0 = Date.now();
    const out = execFileSync(process.execPath, [CLI, 'ask', '--json', '--repo', repo, '--store', store, `Where is \`${name}\` called?`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const seconds = (Date.now() - t0) / 1000;
    const r = JSON.parse(out);
    const cited = [...new Set(r.citations.map((c) => `${c.path}:${c.startLine}`))];
    // Every use found (the result's list), also past what the working memory holds.
    const listed = [...new Set((r.references ?? []).map((c) => `${c.path}:${c.startLine}`))];
    const calls = [...truth.calls];
    const uses = [...truth.uses];
    const grep = wordLines(files, name);
    rows.push({
      size: label.toUpperCase(),
      name,
      calls: calls.length,
      engine: {
        cited: cited.length,
        // Past what the working memory holds, uses are counted, not cited.
        counted: Number(/(\d+) lines in all/.exec(r.answer)?.[1] ?? cited.length),
        callRecall: share(calls, cited),
        precision: share(cited, uses),
        seconds,
        blocksRead: r.stats.blocksRead,
        full: /past what the working memory holds/.test(r.answer),
      },
      listed: { lines: listed.length, callRecall: share(calls, listed), precision: share(listed, uses) },
      grep: { lines: grep.length, callRecall: share(calls, grep), precision: share(grep, uses) },
    });
    const row = rows[rows.length - 1];
    process.stderr.write(`bench:uses ${label} ${name}: ${calls.length} calls; engine ${cited.length} cited, recall ${round(row.engine.callRecall)}, precision ${round(row.engine.precision)}, ${seconds.toFixed(2)} s; listed ${listed.length}, recall ${round(row.listed.callRecall)}, precision ${round(row.listed.precision)}; grep ${grep.length} lines, precision ${round(row.grep.precision)}\n`);
  }
}

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
writeFileSync(join(HERE, 'uses-results.json'), JSON.stringify({ commit, date: new Date().toISOString(), rows }, null, 2) + '\n');
const table = [
  '| context | functions | calls (median) | engine call recall | engine precision | lines the engine cites (median) | s/question (median) | memory full | uses listed: call recall | uses listed: precision | word search precision | lines it gives (median) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
];
// Results saved before the list existed have no `listed`.
const listedMean = (rs, f) => (rs.every((r) => r.listed) ? round(rs.reduce((s, r) => s + f(r.listed), 0) / rs.length) : '–');
for (const size of [...new Set(rows.map((r) => r.size))]) {
  const rs = rows.filter((r) => r.size === size);
  const mean = (f) => round(rs.reduce((s, r) => s + f(r), 0) / rs.length);
  table.push(
    `| ${size} | ${rs.length} | ${median(rs.map((r) => r.calls))} | ${mean((r) => r.engine.callRecall)} | ${mean((r) => r.engine.precision)} | ${median(rs.map((r) => r.engine.cited))} | ${median(rs.map((r) => r.engine.seconds)).toFixed(2)} | ${rs.filter((r) => r.engine.full).length} | ${listedMean(rs, (l) => l.callRecall)} | ${listedMean(rs, (l) => l.precision)} | ${mean((r) => r.grep.precision)} | ${median(rs.map((r) => r.grep.lines))} |`,
  );
}
const perName = ['| context | function | calls | engine: cited, call recall, precision | engine: lines counted | uses listed: lines, call recall, precision | word search: lines, precision |', '|---|---|---|---|---|---|---|'];
for (const r of rows) {
  perName.push(
    `| ${r.size} | \`${r.name}\` | ${r.calls} | ${r.engine.cited}, ${round(r.engine.callRecall)}, ${round(r.engine.precision)}${r.engine.full ? ' (memory full)' : ''} | ${r.engine.counted} | ${r.listed ? `${r.listed.lines}, ${round(r.listed.callRecall)}, ${round(r.listed.precision)}` : '–'} | ${r.grep.lines}, ${round(r.grep.precision)} |`,
  );
}
writeFileSync(
  join(HERE, 'USES.md'),
  [
    '# Uses: "who calls X?" (`npm run bench:uses`)',
    '',
    `Commit \`${commit}\`, ${new Date().toISOString().slice(0, 10)}, the shipped engine (gated mode), contexts of bench:ask (eslint, webpack and rxjs code from npm).`,
    'Ground truth from tree-sitter: call sites are call expressions whose callee is the bare name; a cited line is precise when it',
    "holds a reference to the name (not its declaration, an import or export, a comment or a string). Call recall is the share of call sites cited;",
    'uses listed are the result\'s `references`, every use found in the blocks that mention the name (the sidebar\'s "All N uses found"), also those the answer could not cite;',
    'the word search is every line holding the name as a word (grep -w). Means over functions, medians where said.',
    '',
    ...table,
    '',
    ...perName,
    '',
  ].join('\n'),
);
process.stderr.write('bench:uses wrote bench/uses-results.json and bench/USES.md\n');
