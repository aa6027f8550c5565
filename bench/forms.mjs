// `npm run bench:forms`: the questions asked about one definition, over real third-party code.
// For up to 24 definitions of each bench:ask context (functions and classes defined once, found
// as bench:ask's definition questions are, with the line that defines them), the engine is asked, in plain words, for the name's
// parameters, what it returns, what it does and how it works. An answer is at the definition
// when it is confident and one of its citations holds the defining line (for a class's
// parameters: a line of the same file after it, its constructor). Writes bench/FORMS.md.
//
//   node --import tsx bench/forms.mjs [--sizes 128k,1750k]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { indexedContext, median, questionsFor, round } from './ask-qa.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(resolve(HERE, '..'), 'bin', 'engram.js');
const { values } = parseArgs({ options: { sizes: { type: 'string', default: '128k,1750k' } } });

/** The plain-word question of each form about `name`. */
const FORMS = {
  parameters: (name) => `what arguments does ${name} take?`,
  returns: (name) => `what does ${name} return?`,
  'what it does': (name) => `what does ${name} do?`,
  'how it works': (name) => `how does ${name} work?`,
};

/** Definitions asked about per context, at most. */
const DEFINITIONS = 24;

const rows = [];
for (const label of values.sizes.split(',')) {
  const { tokens, repo, store, files } = indexedContext(label, CLI, HERE);
  // More definitions than bench:ask asks about, drawn the same way from the same files.
  const definitions = questionsFor(files, 2 * DEFINITIONS, tokens)
    .filter((q) => q.kind === 'definition')
    .slice(0, DEFINITIONS);
  for (const d of definitions) {
    const name = /`([^`]+)`/.exec(d.question)[1];
    const def = d.evidence[0];
    const isClass = /\bclass\b/.test(d.question);
    for (const [form, ask] of Object.entries(FORMS)) {
      // A class returns nothing to ask about.
      if (isClass && form === 'returns') continue;
      const t0 = Date.now();
      const r = JSON.parse(execFileSync(process.execPath, [CLI, 'ask', '--json', '--repo', repo, '--store', store, ask(name)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      const seconds = (Date.now() - t0) / 1000;
      const holds = (c) => c.path === def.path && (c.startLine <= def.startLine ? c.endLine >= def.startLine : form === 'parameters' && isClass);
      const atDefinition = r.confidence === 'answer' && r.citations.some(holds);
      rows.push({ size: label.toUpperCase(), name, form, confidence: r.confidence, atDefinition, seconds, answer: r.answer.slice(0, 200) });
      process.stderr.write(`bench:forms ${label} ${form} ${name}: ${r.confidence}${atDefinition ? ', at the definition' : ''} (${seconds.toFixed(2)} s)\n`);
    }
  }
}

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const table = ['| context | form | questions | at the definition | answered | evidence only | s/question (median) |', '|---|---|---|---|---|---|---|'];
for (const size of [...new Set(rows.map((r) => r.size))]) {
  for (const form of Object.keys(FORMS)) {
    const rs = rows.filter((r) => r.size === size && r.form === form);
    const share = (f) => round(rs.filter(f).length / rs.length);
    table.push(
      `| ${size} | ${form} | ${rs.length} | ${share((r) => r.atDefinition)} | ${share((r) => r.confidence === 'answer')} | ${share((r) => r.confidence === 'evidence')} | ${median(rs.map((r) => r.seconds)).toFixed(2)} |`,
    );
  }
}
const misses = rows.filter((r) => !r.atDefinition).map((r) => `| ${r.size} | ${r.form} | \`${r.name}\` | ${r.confidence} | ${r.answer.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
writeFileSync(
  join(HERE, 'FORMS.md'),
  [
    '# Questions about one definition (`npm run bench:forms`)',
    '',
    `Commit \`${commit}\`, ${new Date().toISOString().slice(0, 10)}, the shipped engine (gated mode), up to ${DEFINITIONS} definitions per bench:ask context (functions and`,
    'classes of eslint, webpack and rxjs defined once in it, drawn as bench:ask draws its definition questions), each asked in plain words for its',
    'parameters ("what arguments does X take?"), its returns ("what does X return?", functions only), what it does and how it works. At the definition: a confident answer citing the defining line',
    "(a class's parameters: a later line of its file, its constructor). Evidence only: the engine said it was not sure and gave what it found.",
    '',
    ...table,
    '',
    '| context | form | name | confidence | answer (cut) |',
    '|---|---|---|---|---|',
    ...misses,
    '',
  ].join('\n'),
);
process.stderr.write('bench:forms wrote bench/FORMS.md\n');
