// `npm run bench:ask`: the long-context benchmark (issue 7). QA over real npm code at
// growing context sizes, all four modes with the same reasoner, each (size, mode) in
// its own `engram eval` process so peak RSS is that run's alone. Writes
// bench/ask-results-<reasoner>.json, bench/plots/ask-<reasoner>.svg and the tables in bench/RESULTS.md.
//
//   node --import tsx bench/ask.mjs [--sizes 8k,32k,128k,512k,1750k] [--questions 12]
//        [--reasoner DIR|NAME] [--modes gated,memagent,full,rag] [--memagent-budget-s 240] [--gate none|DIR]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildContext, sourceFiles } from './ask-qa.mjs';
import { svgPlot } from './ask-plot.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const CLI = join(ROOT, 'bin', 'engram.js');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '8k,32k,128k,512k,1750k' },
    questions: { type: 'string', default: '12' },
    // The shipped reasoner by default; any installed name or ONNX folder (the fixture decoder: test/fixtures/tiny-reasoner).
    reasoner: { type: 'string', default: 'engram-reader' },
    modes: { type: 'string', default: 'gated,memagent,full,rag' },
    'memagent-budget-s': { type: 'string', default: '240' },
    // The engine's installed gate by default; 'none' ranks by recall alone.
    gate: { type: 'string' },
    /** Only rewrite RESULTS.md and the plots from the saved results. */
    report: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map((s) => ({ label: s.toUpperCase(), tokens: Math.round(parseFloat(s) * (s.endsWith('m') ? 1e6 : 1e3)) }));
const modes = values.modes.split(',');
const nq = Number(values.questions);
const memagentBudget = Number(values['memagent-budget-s']);

function run(args, timeoutMs) {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out, err });
    });
  });
}

// The commit measured is the one built when the run starts (commits made during a run do not count).
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
const rows = [];
for (const size of values.report ? [] : sizes) {
  const dir = join(HERE, '.work', 'ask', size.label.toLowerCase());
  const info = buildContext(sourceFiles(), size.tokens, nq, dir);
  const repo = join(dir, 'repo');
  const store = join(dir, 'store');
  const t0 = Date.now();
  execFileSync(process.execPath, [CLI, 'index', '--repo', repo, '--store', store], { stdio: ['ignore', 'ignore', 'inherit'] });
  const status = JSON.parse(execFileSync(process.execPath, [CLI, 'status', '--json', '--repo', repo, '--store', store], { encoding: 'utf8' }));
  process.stderr.write(`bench:ask ${size.label}: ${info.files} files, ${status.tokens} tokens, ${status.blocks} blocks, ${info.questions} questions (indexed in ${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  for (const mode of modes) {
    // MemAgent reads everything: above 50K tokens it gets 4 questions, above 300K one and a
    // time budget, and a run it could not finish is reported as a projection from its reading rate.
    const limit = mode !== 'memagent' ? nq : status.tokens > 300_000 ? 1 : status.tokens > 50_000 ? Math.min(4, nq) : nq;
    const args = ['eval', '--json', '--qa', join(dir, 'qa.jsonl'), '--repo', repo, '--store', store, '--mode', mode, '--model', values.reasoner, '--limit', String(limit), ...(values.gate ? ['--gate', values.gate] : [])];
    if (mode === 'memagent') args.push('--time-budget', String(memagentBudget));
    const r = await run(args, (memagentBudget + 120) * 1000 * limit);
    if (r.code !== 0) {
      process.stderr.write(`bench:ask ${size.label} ${mode} failed (${r.code}): ${r.err.split('\n').slice(-3).join(' ')}\n`);
      rows.push({ size: size.label, tokens: status.tokens, blocks: status.blocks, mode, failed: true });
      continue;
    }
    const rep = JSON.parse(r.out);
    const per = rep.perQuestion;
    const partial = per.some((q) => q.blocksRead < status.blocks) && mode === 'memagent';
    const msPerQ = rep.msPerQuestion;
    const projected = partial ? Math.round(msPerQ * (status.blocks / Math.max(1, rep.blocksReadPerQuestion))) : null;
    const row = {
      size: size.label,
      tokens: status.tokens,
      blocks: status.blocks,
      mode,
      questions: rep.questions,
      accuracy: rep.accuracy,
      containment: rep.containment,
      evidenceHitRate: rep.evidenceHitRate,
      citationPrecision: rep.citationPrecision,
      citationRecall: rep.citationRecall,
      gateRecallAtK: rep.gateRecallAtK,
      sPerQuestion: (projected ?? msPerQ) / 1000,
      projected: projected !== null,
      blocksRead: rep.blocksReadPerQuestion,
      tokensRead: rep.tokensReadPerQuestion,
      peakRssMb: rep.peakRssMb,
      readyRssMb: rep.readyRssMb,
    };
    rows.push(row);
    process.stderr.write(
      `bench:ask ${size.label} ${mode}: acc ${row.containment} evidence ${row.evidenceHitRate} s/q ${row.sPerQuestion.toFixed(2)}${row.projected ? ' (projected)' : ''} blocks ${row.blocksRead} tokens ${row.tokensRead} rss ${row.peakRssMb} MB (at rest ${row.readyRssMb})\n`,
    );
  }
}

const reasonerName = values.reasoner.split(/[\\/]/).filter(Boolean).pop();
mkdirSync(join(HERE, 'plots'), { recursive: true });
if (!values.report) {
  const results = { commit, date: new Date().toISOString(), reasoner: reasonerName, cpus: (await import('node:os')).cpus().length, questionsPerSize: nq, rows };
  // One results file and plot per reasoner; RESULTS.md shows every reasoner measured.
  writeFileSync(join(HERE, `ask-results-${reasonerName}.json`), JSON.stringify(results, null, 1) + '\n');
}
const all = readdirSync(HERE)
  .filter((f) => /^ask-results-.+\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(HERE, f), 'utf8')));
for (const r of all) writeFileSync(join(HERE, 'plots', `ask-${r.reasoner}.svg`), svgPlot(r.rows, modes, `reasoner ${r.reasoner}, commit ${r.commit}`));
writeFileSync(join(HERE, 'RESULTS.md'), ['# Benchmark results', '', ...all.map((r) => resultsMarkdown(r, modes))].join('\n'));
process.stderr.write(`bench:ask wrote bench/ask-results-${reasonerName}.json, bench/plots/ask-${reasonerName}.svg, bench/RESULTS.md\n`);

function resultsMarkdown(res, modes) {
  const f = (x, d = 2) => (x === undefined ? '–' : Number(x).toFixed(d));
  const lines = [
    `## Ask: long-context QA, four modes, reasoner \`${res.reasoner}\` (\`npm run bench:ask\`)`,
    '',
    `Commit \`${res.commit}\`, ${res.date.slice(0, 10)}, reasoner \`${res.reasoner}\`, ${res.cpus} CPU cores shared with other jobs, no GPU.`,
    `Questions: up to ${res.questionsPerSize} per size (half constant values, half definition sites), drawn from each context with answers unique in it;`,
    'code from eslint 9.39.1, webpack 5.101.3 and rxjs 7.8.2 (`bench/corpus.mjs`, `npm pack`). Accuracy is containment of the normalized expected answer;',
    'tokens are the engine\'s token estimate. Each (size, mode) runs as its own `engram eval` process, so peak RSS is that run\'s.',
    'Only confident answers count for accuracy; evidence hit is the share of questions whose citations, confident or',
    'low-confidence ("not sure, the closest evidence is ..."), overlap the expected lines.',
    '',
    '| context | mode | questions | accuracy | exact | evidence hit | s/question | blocks read | tokens read | peak RSS MB | at rest MB | gate recall@8 |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of res.rows) {
    if (r.failed) {
      lines.push(`| ${r.size} (${r.tokens}) | ${r.mode} | failed | | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.size} (${r.tokens}) | ${r.mode} | ${r.questions} | ${f(r.containment)} | ${f(r.accuracy)} | ${f(r.evidenceHitRate)} | ${f(r.sPerQuestion)}${r.projected ? ' (projected)' : ''} | ${f(r.blocksRead, 1)} of ${r.blocks} | ${r.tokensRead} | ${r.peakRssMb} | ${r.readyRssMb ?? '–'} | ${f(r.gateRecallAtK)} |`,
    );
  }
  lines.push(
    '',
    '### gated / memagent',
    '',
    '| context | speed-up (memagent s / gated s) | peak RSS ratio (gated / memagent) | questions\' memory ratio (peak − at rest, gated / memagent) | accuracy gated vs memagent |',
    '|---|---|---|---|---|',
  );
  // What answering adds to the engine at rest (the editor's resident `serve` process holds that part anyway).
  const added = (r) => (r.readyRssMb === undefined ? undefined : r.peakRssMb - r.readyRssMb);
  for (const size of [...new Set(res.rows.map((r) => r.size))]) {
    const g = res.rows.find((r) => r.size === size && r.mode === 'gated' && !r.failed);
    const m = res.rows.find((r) => r.size === size && r.mode === 'memagent' && !r.failed);
    if (!g || !m) continue;
    lines.push(`| ${size} | ${f(m.sPerQuestion / g.sPerQuestion, 1)}x${m.projected ? ' (memagent projected)' : ''} | ${f(g.peakRssMb / m.peakRssMb)} | ${added(g) === undefined || added(m) === undefined ? '–' : `${f(added(g) / added(m))} (${added(g)} / ${added(m)} MB)`} | ${f(g.containment)} vs ${m.projected ? 'n/a (not finished)' : f(m.containment)} |`);
  }
  lines.push(
    '',
    'MemAgent runs answer 4 questions above 50K tokens and one above 300K (so their gate recall@8 is those questions\'); gate recall@8 is the',
    'first round of the gate: the installed gate model (`engram-gate`) in gated mode, recall ranking alone in the modes that open no gate. Peak RSS is the whole',
    'process (Node, LanceDB, ONNX Runtime and the model); at rest is the same process with the engine open and its models loaded,',
    'before the first question. MemAgent streams blocks a page at a time, so its extra memory is the pages and the per-step trace,',
    'not a growing context.',
  );
  lines.push('', `![accuracy and seconds per question against context length, ${res.reasoner}](plots/ask-${res.reasoner}.svg)`, '');
  return lines.join('\n');
}
