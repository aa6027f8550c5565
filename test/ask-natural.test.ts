// Questions in the user's words ("which file defines ConnectionPool?", "who calls
// open_connection?") are read as the forms the engine answers from the code's structure, and
// answered through the real engine with the shipped reader and gate; "where is X used"
// questions list the lines that use X, not its definition, imports, comments or docstrings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { interpretQuestion, referencesTitle } from '../src/core/ask/index.js';
import { UserError, type AskResult } from '../src/core/types.js';
import { shippedEngine, withShippedEngine, type ShippedEngine } from './support/shipped.js';

test('questions in plain words are read as the forms the engine answers', () => {
  const cases: Array<[string, string]> = [
    ['Which file defines the class LineStart?', 'Where is the class `LineStart` defined?'],
    ['where is LineStart', 'Where is `LineStart` defined?'],
    ["Where's the Word class?", 'Where is the class `Word` defined?'],
    ['Show me the definition of ParserElement', 'Where is `ParserElement` defined?'],
    ['find the one_of function', 'Where is the function `one_of` defined?'],
    ['In which file is one_of implemented?', 'Where is `one_of` defined?'],
    ['Can you please find Engine.ask?', 'Where is the method `ask` of the class `Engine` defined?'],
    ['What is the default value of show_groups in create_diagram?', 'What is the default value of the parameter `show_groups` of the function `create_diagram`?'],
    ["what's the default for the timeout argument of the ConnectionPool class", 'What is the default value of the parameter `timeout` of the class `ConnectionPool`?'],
    ['What does retries default to?', 'What is the default value of the parameter `retries`?'],
    ["what is retryRequest's default for fn?", 'What is the default value of the parameter `fn` of the function `retryRequest`?'],
    ['What does DEFAULT_WHITE_CHARS equal?', 'What is the value of the constant `DEFAULT_WHITE_CHARS`?'],
    ['what is MAX_RETRIES', 'What is the value of the constant `MAX_RETRIES`?'],
    ['What is the value of timeout?', 'What is the value of the constant `timeout`?'],
    ['Which function does one_of call from another file?', 'The function `one_of` calls exactly one function defined in another file. Which function is it?'],
    // "which function in another file" names no member of a class `another`.
    ['which function in another file does audit call?', 'The function `audit` calls exactly one function defined in another file. Which function is it?'],
    ['which function outside its file does audit call?', 'The function `audit` calls exactly one function defined in another file. Which function is it?'],
    ['What does one_of call?', 'Which functions does the function `one_of` call?'],
    ['which functions are called by Engine.ask', 'Which functions does the method `ask` of the class `Engine` call?'],
    ['Where is ParseException raised?', 'Where is `ParseException` raised?'],
    ['which files import ConnectionPool?', 'Where is `ConnectionPool` imported?'],
    ['what classes inherit from Exception', 'Which classes extend `Exception`?'],
    ['find the subclasses of the PoolClosed class', 'Which classes extend the class `PoolClosed`?'],
    ['What does one_of do?', 'What does `one_of` do?'],
    // A member named with its class.
    ['what does the parse method of ParserElement do?', 'What does the method `parse` of the class `ParserElement` do?'],
    ['who calls the close method of the Pool class', 'Where is the method `close` of the class `Pool` called?'],
    ['what is the default for timeout in the method connect of Client', 'What is the default value of the parameter `timeout` of the method `connect` of the class `Client`?'],
    ['What is LineStart?', 'What does `LineStart` do?'],
    ['what is the Word class for', 'What does the class `Word` do?'],
    ['What is epsilon?', 'What does `epsilon` do?'],
    ['explain _trim_arity', 'What does `_trim_arity` do?'],
    ['who calls open_connection', 'Where is `open_connection` called?'],
    ['Find all references to `one_of`', 'Where is `one_of` used?'],
    ['where is LineStart defined in pyparsing/core.py?', 'Where is `LineStart` defined?'],
    ['what arguments does ConnectionPool take?', 'What are the parameters of `ConnectionPool`?'],
    ['What are the params of the connect method of Client?', 'What are the parameters of the method `connect` of the class `Client`?'],
    ["what is retryRequest's signature", 'What are the parameters of `retryRequest`?'],
    ['how do I call open_connection?', 'What are the parameters of `open_connection`?'],
    ['what does open_connection return?', 'What does `open_connection` return?'],
    ['What is the return type of the acquire method', 'What does the method `acquire` return?'],
    ['How does open_connection work?', 'How does `open_connection` work?'],
    ['how is the acquire method implemented', 'How does the method `acquire` work?'],
    ['walk me through ConnectionPool.acquire', 'How does the method `acquire` of the class `ConnectionPool` work?'],
    ['Explain how Engine works', 'How does `Engine` work?'],
    // A parameter next to "default" may be a plain word; the other name is its function.
    ["ensure_str's errors default", 'What is the default value of the parameter `errors` of the function `ensure_str`?'],
    ["what's delay's default value in executeSchedule?", 'What is the default value of the parameter `delay` of the function `executeSchedule`?'],
    ['what does ensure_str use for errors by default?', 'What is the default value of the parameter `errors` of the function `ensure_str`?'],
    ['mergeMap: default for concurrent?', 'What is the default value of the parameter `concurrent` of the function `mergeMap`?'],
    ['in executeSchedule, what is repeat by default?', 'What is the default value of the parameter `repeat` of the function `executeSchedule`?'],
    ['default configOrCount for retry', 'What is the default value of the parameter `configOrCount` of the function `retry`?'],
    ['bufferCount: default for startBufferEvery?', 'What is the default value of the parameter `startBufferEvery` of the function `bufferCount`?'],
    // Two kind words: the second, a plain function/method/class, is the kind.
    ['where is the error function located?', 'Where is the function `error` defined?'],
    ['where is the function error located?', 'Where is the function `error` defined?'],
    ['what does the type function return?', 'What does the function `type` return?'],
    ['where is the class Module defined?', 'Where is the class `Module` defined?'],
    // A codebase's own words for its functions.
    ['how does the retry operator work', 'How does the function `retry` work?'],
    // a kebab-case name is a module's, said with its kind; without one, "built-in" stays a word
    ['where is the no-unused-vars rule defined?', 'Where is the rule `no-unused-vars` defined?'],
    ['which file defines the css-loader loader?', 'Where is the loader `css-loader` defined?'],
    ['what does the no-unused-vars rule do?', 'What does the rule `no-unused-vars` do?'],
    ['where is the built-in parser defined?', 'where is the built-in parser defined?'],
    ['who uses the cached decorator?', 'Where is the function `cached` used?'],
  ];
  for (const [asked, read] of cases) assert.equal(interpretQuestion(asked).question, read, asked);
  // A file or folder the question ends on is its scope; a member's name is not a file.
  assert.equal(interpretQuestion('who calls one_of in helpers.py').scope, 'helpers.py');
  assert.equal(interpretQuestion('How does parsing work under src/core/?').scope, 'src/core/');
  assert.equal(interpretQuestion('what is the default for timeout in ConnectionPool.__init__').scope, undefined);
  // Short questions no wording matches whole are read by their cue words when they name the code.
  const cued: Array<[string, string]> = [
    ['source of one_of', 'Where is `one_of` defined?'],
    ['one_of is defined where?', 'Where is `one_of` defined?'],
    ['max_retries value', 'What is the value of the constant `max_retries`?'],
    ["create_diagram's show_groups default", 'What is the default value of the parameter `show_groups` of the function `create_diagram`?'],
    ["what's show_groups's default value in create_diagram?", 'What is the default value of the parameter `show_groups` of the function `create_diagram`?'],
    ['one_of args', 'What are the parameters of `one_of`?'],
    ['one_of calls which function from another file?', 'The function `one_of` calls exactly one function defined in another file. Which function is it?'],
  ];
  for (const [asked, read] of cued) assert.equal(interpretQuestion(asked).question, read, asked);
  for (const q of ['how do I call one_of with a list?', 'what value should I pass to one_of?', 'can one_of take a generator?', 'source of the pool', 'where is the function foo in module bar']) {
    assert.equal(interpretQuestion(q).form, null, q);
  }
  // Questions no form matches whole stay as they are: prose, descriptions, plain words, pronouns.
  for (const q of [
    'How does the pool reuse connections?',
    // A plain word may name an idea, not code.
    'How does caching work?',
    'Find the function that parses dates',
    'show me errors',
    'where is it?',
    'Which function does the following: "Split a bibliography into its entries."? Give its name.',
    'What is the default value of the parameter `show_groups` of the method `create_diagram` of the class `ParserElement`?',
  ]) {
    const r = interpretQuestion(q);
    assert.equal(r.question, q, q);
    if (r.form === null) continue;
    assert.ok(q.includes('`'), `${q}: only a question already in its form may match one`);
  }
});

/** Twelve jobs that each open a connection: more files than the gate reads for other questions. */
const JOBS: Record<string, string> = Object.fromEntries(
  Array.from({ length: 12 }, (_, i) => [`db/jobs/job${i}.py`, ['from ..connect import open_connection', '', '', `def run_job${i}(host):`, `    conn = open_connection(host, ${i + 1}.0)`, '    return conn'].join('\n')]),
);

const FILES: Record<string, string> = {
  ...JOBS,
  'db/pool.py': [
    'from .errors import PoolClosed, PoolTimeout',
    'from .connect import open_connection',
    '',
    'DEFAULT_POOL_SIZE = 10',
    '',
    '',
    'class ConnectionPool:',
    '    """A pool of reusable connections to one host.',
    '',
    '    Connections are opened on demand, up to `size` of them, and',
    '    handed out by `acquire`. A closed pool opens no more.',
    '',
    '    Attributes:',
    '        host: where the connections go.',
    '        size: how many connections the pool holds at most.',
    '        timeout: seconds a connection attempt may take.',
    '        closed: whether `close` was called.',
    '    """',
    '',
    '    def __init__(self, host, size=DEFAULT_POOL_SIZE, timeout=30.0):',
    '        self.host = host',
    '        self.size = size',
    '        self.timeout = timeout',
    '        self.closed = False',
    '',
    '    def acquire(self):',
    '        if self.closed:',
    '            raise PoolClosed(self.host)',
    '        return open_connection(self.host, self.timeout)',
    '',
    '    def close(self):',
    '        self.closed = True',
  ].join('\n'),
  'db/errors.py': [
    'class PoolClosed(Exception):',
    '    """Raised when a closed pool is asked for a connection."""',
    '',
    '',
    'class PoolTimeout(Exception):',
    '    pass',
  ].join('\n'),
  'db/connect.py': [
    'import socket',
    '',
    '',
    'def open_connection(host, timeout, retries=3):',
    '    """Opens a socket to host.',
    '',
    '    >>> open_connection("db", 1.0)',
    '    """',
    '    # open_connection retries on refused connections',
    '    return socket.create_connection((host, 5432), timeout)',
    '',
    '',
    'def pairs(tokens):',
    '    "Yields the tokens two at a time."',
    '    it = iter(tokens)',
    '    return zip(it, it)',
  ].join('\n'),
  'web/retry.ts': [
    '// ---------------------------------------------------------------',
    '/**',
    ' * Retries a {@link Request} with backoff.',
    ' *',
    ' * @param request the request to send',
    ' */',
    'export function retryRequest(request: Request, fn = defaultSend): Promise<Response> {',
    '  return fn(request);',
    '}',
    '',
    '/** Waits the given number of milliseconds. */',
    'export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));',
  ].join('\n'),
  'web/pick.ts': [
    '/* tslint:disable:max-line-length */',
    'export function pick<T>(xs: T[]): T;',
    'export function pick<T>(xs: T[], n: number): T[];',
    '/**',
    ' * Picks items at random from a list.',
    ' */',
    'export function pick<T>(xs: T[], n?: number): T | T[] {',
    '  return shuffle(xs).slice(0, n ?? 1);',
    '}',
  ].join('\n'),
  // A doc comment too long to share a block with the function it documents.
  'web/flatten.ts': [
    "import { pick } from './pick';",
    '',
    '/**',
    ' * Flattens nested lists of records into one list, keeping their order.',
    ' *',
    ...Array.from({ length: 70 }, (_, i) => ` * Step ${i + 1}: the records of level ${i + 1} are appended after those of level ${i}, unless the caller asked otherwise.`),
    ' */',
    'export function flattenRecords(lists: unknown[][], depth = 1): unknown[] {',
    ...Array.from({ length: 40 }, (_, i) => `  const level${i} = lists.map((l) => pick(l as unknown[], ${i + 1})).flat(depth);`),
    '  return [level0, level1];',
    '}',
  ].join('\n'),
  'web/format.ts': [
    "import { toUnits } from 'money-lib';",
    '',
    '/** Formats a price for display. */',
    'export function formatPrice(cents: number): string {',
    '  const units = toUnits(cents); // was: legacyUnits(cents)',
    '  const note = "see oldFormat(cents) for the old way";',
    '  function pad(n: number): string {',
    "    return String(n).padStart(2, '0');",
    '  }',
    '  return `${units}.${pad(cents % 100)} ${note}`;',
    '}',
  ].join('\n'),
  'db/cli.py': [
    'from .pool import ConnectionPool',
    'from .errors import (',
    '    PoolClosed,',
    '    PoolTimeout,',
    ')',
    '',
    '',
    'def main(argv):',
    '    pool = ConnectionPool(argv[0])',
    '    try:',
    '        pool.acquire()',
    '    except PoolClosed:',
    '        print("PoolClosed: the pool was closed")',
    '        raise PoolTimeout("gave up")',
  ].join('\n'),
};

let shipped: ShippedEngine;
const ask = (q: string): Promise<AskResult> => shipped.ask(q);

before(async () => {
  shipped = await shippedEngine(FILES);
});

after(() => shipped.close());

test('a place asked in plain words is answered at the definition, and the result says how it was read', async () => {
  const r = await ask('Which file defines ConnectionPool?');
  assert.equal(r.confidence, 'answer');
  assert.equal(r.answer, 'db/pool.py:7');
  assert.equal(r.interpreted, 'Where is `ConnectionPool` defined?');
  const f = await ask('find the open_connection function');
  assert.equal(f.answer, 'db/connect.py:4');
  // A question already in its form is not reported as reworded.
  assert.equal((await ask('Where is the function `open_connection` defined?')).interpreted, undefined);
});

test('values and defaults asked in plain words: a class takes its constructor, a parameter without a function any head', async () => {
  const size = await ask('What is DEFAULT_POOL_SIZE set to?');
  assert.equal(size.answer, '10');
  assert.deepEqual(size.citations, [{ path: 'db/pool.py', startLine: 4, endLine: 4 }]);
  const timeout = await ask("What's the default for timeout in the ConnectionPool class?");
  assert.equal(timeout.answer, '30.0');
  assert.deepEqual(timeout.citations, [{ path: 'db/pool.py', startLine: 20, endLine: 20 }]);
  assert.equal((await ask("what is retryRequest's default for fn?")).answer, 'defaultSend');
  const retries = await ask('What does retries default to?');
  assert.equal(retries.answer, '3');
  assert.deepEqual(retries.citations, [{ path: 'db/connect.py', startLine: 4, endLine: 4 }]);
});

test('uses are the lines that use the name: raises first when raises are asked for; no definition, import, comment or docstring', async () => {
  const raised = await ask('Where is PoolClosed raised?');
  assert.equal(raised.confidence, 'answer');
  const cited = raised.citations.map((c) => `${c.path}:${c.startLine}`);
  assert.equal(cited[0], 'db/pool.py:28', raised.answer);
  assert.ok(cited.includes('db/cli.py:12'), `the except clause is a use too: ${raised.answer}`);
  for (const not of ['db/errors.py:1', 'db/pool.py:1', 'db/cli.py:3', 'db/cli.py:13']) assert.ok(!cited.includes(not), `${not} does not use PoolClosed: ${raised.answer}`);

  // Every call, in the pool and in twelve jobs: more blocks than the gate reads for other questions.
  const callers = await ask('who calls open_connection?');
  const places = callers.citations.map((c) => `${c.path}:${c.startLine}`);
  assert.equal(places.length, 13, callers.answer);
  assert.ok(places.every((p) => p === 'db/pool.py:29' || /^db\/jobs\/job\d+\.py:5$/.test(p)), `the docstring example, the comment and the imports are not calls: ${callers.answer}`);
  assert.match(callers.answer, / \(5 more cited; 13 lines in 13 files\)$/);

  const none = await ask('Where is PoolTimeout used?');
  assert.ok(none.citations.some((c) => c.path === 'db/cli.py' && c.startLine === 14), none.answer);
});

test('every use in the workspace is found, past what recall ranks; past what the memory holds, counted', async () => {
  const files: Record<string, string> = {
    'src/events.ts': 'export function sendEvent(name: string): void {\n  console.log(name);\n}\n\nexport function track(what: string): void {\n  sendEvent(what);\n}\n',
    // Prose names it without using it; a lowercase variable shares its index term.
    'CHANGELOG.md': '# Changes\n\n- `sendEvent` now logs.\n',
    'src/names.ts': 'export const sendevent = 1;\n',
  };
  // A lowercase `sendevent` shares the index term of `sendEvent` and comes first in path order.
  for (let i = 0; i < 60; i++) files[`src/a/d${i}.ts`] = `export const sendevent = ${i};\n`;
  for (let i = 0; i < 40; i++) files[`src/handlers/h${i}.ts`] = `import { sendEvent } from '../events';\n\nexport function handle${i}(): void {\n  sendEvent('h${i}');\n}\n`;
  for (let i = 0; i < 120; i++) files[`src/views/v${i}.ts`] = `import { track } from '../events';\n\nexport function view${i}(): void {\n  track('v${i}');\n}\n`;
  await withShippedEngine(files, async (many) => {
    // More blocks use sendEvent than recall ranks for a uses question (USES_RECALLED): all are read.
    const sent = await many.ask('who calls sendEvent?');
    const places = sent.citations.map((c) => `${c.path}:${c.startLine}`);
    const expected = ['src/events.ts:6', ...Array.from({ length: 40 }, (_, i) => `src/handlers/h${i}.ts:4`)];
    assert.deepEqual([...places].sort(), expected.sort(), sent.answer);
    assert.match(sent.answer, / \(33 more cited; 41 lines in 41 files\)$/);
    // The trace's memory sizes are the reasoner's token counts (taken from the memory bound, not counted twice).
    for (const e of sent.steps.filter((x) => x.type === 'memory')) assert.equal(e.tokens, many.reader.count(e.memory ?? ''));
    // A block limit counts the blocks read, not those that only share the term.
    const limited = await many.engine.ask('who calls sendEvent?', { mode: 'gated', reasoner: many.reader, gate: many.gate, gateOptions: { maxBlocks: 100 } });
    assert.equal(limited.citations.length, 41, limited.answer);
    // track is called from 120 lines: the memory holds some, the answer counts them all.
    const tracked = await many.ask('who calls track?');
    const kept = tracked.citations.length;
    assert.ok(kept >= 30 && kept < 120, `${kept} calls kept`);
    assert.ok(tracked.answer.endsWith(` (${kept - 8} more cited; 120 lines in all, the ${120 - kept} past what the working memory holds not cited)`), tracked.answer);
    // The result lists them all, in path and line order, with their lines: the uncited too.
    const refs = tracked.references ?? [];
    assert.equal(refs.length, 120);
    const inOrder = Array.from({ length: 120 }, (_, i) => `src/views/v${i}.ts`).sort();
    assert.deepEqual(refs.map((r) => `${r.path}:${r.startLine}-${r.endLine}`), inOrder.map((p) => `${p}:4-4`));
    assert.equal(refs.find((r) => r.path === 'src/views/v7.ts')?.text, "track('v7');");
    // The definition, the imports and the changelog are not uses.
    assert.deepEqual(sent.references?.map((r) => `${r.path}:${r.startLine}`).sort(), expected.sort());
    // Other questions have none.
    assert.equal((await many.ask('where is track defined?')).references, undefined);
  });
});

test('a name too long to be one index term is found in every file that uses it', async () => {
  const long = 'isIdentifierUsedBetweenAssignedAndEqualSign';
  const files: Record<string, string> = { 'lib/ast.js': `function ${long}(node) {\n  return node.range[0] > 0;\n}\nmodule.exports = { ${long} };\n` };
  // More callers than recall's candidates for a uses question (USES_RECALLED).
  for (let i = 0; i < 40; i++) files[`lib/rules/r${i}.js`] = `const { ${long} } = require('../ast');\n\nfunction check${i}(node) {\n  return ${long}(node);\n}\n`;
  await withShippedEngine(files, async (own) => {
    const r = await own.ask(`who calls ${long}?`);
    assert.deepEqual(
      (r.references ?? []).map((x) => `${x.path}:${x.startLine}`),
      // The export names it too: a reference.
      ['lib/ast.js:4', ...Array.from({ length: 40 }, (_, i) => `lib/rules/r${i}.js:4`).sort()],
    );
  });
});

test("a method asked with its class lists its uses in files that name the class first", async () => {
  await withShippedEngine({
    'net/pool.py': 'class Pool:\n    def close(self):\n        self.closed = True\n\n    def reset(self):\n        self.close()\n',
    'net/app.py': 'from .pool import Pool\n\n\ndef shutdown(pool: Pool):\n    pool.close()\n',
    'aaa/logs.py': 'def end(handler):\n    handler.close()\n',
    'io/files.py': 'def finish(f):\n    f.close()\n',
  }, async (own) => {
    const r = await own.ask('who calls the close method of the Pool class?');
    assert.deepEqual(
      (r.references ?? []).map((x) => `${x.path}:${x.startLine}${x.namesClass ? ' (names Pool)' : ''}`),
      ['net/app.py:5 (names Pool)', 'net/pool.py:6 (names Pool)', 'aaa/logs.py:2', 'io/files.py:2'],
    );
    assert.equal(referencesTitle(r.references ?? []), 'All 4 uses found, in 4 files (the 2 in files that name its class first)');
  });
});

test('imports and subclasses are their own kinds of use', async () => {
  const imports = await ask('which files import PoolClosed?');
  assert.deepEqual(
    imports.citations.map((c) => `${c.path}:${c.startLine}`).sort(),
    ['db/cli.py:3', 'db/pool.py:1'],
    `the import lines, one inside a list spread over lines: ${imports.answer}`,
  );
  const subclasses = await ask('what classes inherit from Exception?');
  assert.deepEqual(subclasses.citations.map((c) => `${c.path}:${c.startLine}`).sort(), ['db/errors.py:1', 'db/errors.py:5'], subclasses.answer);
  assert.match(subclasses.answer, /^Classes extending `Exception` in the code read: /);
});

test('a question that ends on a file or folder reads only there, and says so', async () => {
  const place = await ask('where is open_connection defined in db/connect.py?');
  assert.equal(place.answer, 'db/connect.py:4');
  assert.equal(place.interpreted, 'Where is `open_connection` defined? (within db/connect.py)');
  // A folder: the twelve jobs' calls and not the pool's.
  const jobs = await ask('who calls open_connection in db/jobs/');
  assert.ok(jobs.citations.length === 12 && jobs.citations.every((c) => c.path.startsWith('db/jobs/')), jobs.answer);
  assert.match(jobs.answer, / \(4 more cited; 12 lines in 12 files\)$/);
  // A file named by its name alone.
  const cli = await ask('Where is PoolClosed used in cli.py?');
  assert.deepEqual(cli.citations.map((c) => `${c.path}:${c.startLine}`), ['db/cli.py:12'], cli.answer);
  await assert.rejects(ask('where is open_connection defined in db/nowhere.py?'), (e: Error) => e instanceof UserError && /asks about db\/nowhere\.py, and no indexed file matches it/.test(e.message));
});

test('a call chain asked in plain words is followed into the other file', async () => {
  const r = await ask('Which function does acquire call from another file?');
  assert.equal(r.confidence, 'answer', r.answer);
  assert.equal(r.answer, 'open_connection');
  assert.deepEqual(r.citations, [{ path: 'db/connect.py', startLine: 4, endLine: 4 }]);
});

test('a name the workspace imports but does not define is not answered with its import', async () => {
  const r = await ask('where is toUnits defined?');
  assert.notEqual(r.confidence, 'answer', r.answer);
  assert.ok(!/^web\/format\.ts:1$/.test(r.answer), r.answer);
});

test('a definition in a shape of its own is a place; a line that only calls the name is not', async () => {
  await withShippedEngine({
    'lib/parse.js': "'use strict';\n\nexports.parseThing = function (text) {\n  return text.split(',');\n};\n",
    'lib/obj.js': 'const handlers = {\n  onClick: function (e) {\n    return e;\n  },\n};\nmodule.exports = handlers;\n',
    'lib/use.js': "const { parseThing } = require('./parse');\n\nfunction run(t) {\n  return toUnits(parseThing(t));\n}\n",
  }, async (own) => {
    assert.equal((await own.ask('where is parseThing defined?')).answer, 'lib/parse.js:3');
    assert.equal((await own.ask('where is onClick defined?')).answer, 'lib/obj.js:2');
    const called = await own.ask('where is toUnits defined?');
    assert.equal(called.confidence, 'evidence', called.answer);
    assert.equal(called.answer, 'Not sure (low confidence): the closest evidence is lib/use.js:4: return toUnits(parseThing(t));');
  });
});

test("a module's default export is the name its file is named after: place, default, documentation, uses", async () => {
  await withShippedEngine({
    'lib/debounce.js': "'use strict';\n\n/**\n * Delays calls to fn until wait ms have passed since the last call.\n */\nmodule.exports = function (fn, wait = 100) {\n  let timer = null;\n  return (...args) => {\n    clearTimeout(timer);\n    timer = setTimeout(() => fn(...args), wait);\n  };\n};\n",
    'lib/is-number/index.js': 'export default (value) => typeof value === "number";\n',
    'lib/fmt.py': "def fmt(value, *, width: int, fill=' '):\n    return str(value).rjust(width, fill)\n",
    'lib/search.js': "const debounce = require('./debounce');\n\nfunction makeSearch(input, run) {\n  return debounce(() => run(input.value), 250);\n}\n\nmodule.exports = { makeSearch };\n",
    'lib/sum.js': "import isNumber from './is-number';\n\nexport default function sum(xs) {\n  return xs.filter(isNumber).reduce((a, b) => a + b, 0);\n}\n",
  }, async (own) => {
    assert.equal((await own.ask('where is debounce defined?')).answer, 'lib/debounce.js:6');
    assert.equal((await own.ask('where is isNumber defined?')).answer, 'lib/is-number/index.js:1');
    const wait = await own.ask('what is the default value of wait in debounce?');
    assert.deepEqual([wait.answer, wait.citations[0]?.startLine], ['100', 6]);
    // A parameter its function declares without a default is said to have none, at the head.
    const fn = await own.ask('what is the default value of fn in debounce?');
    assert.deepEqual([fn.answer, fn.confidence, fn.citations[0]?.startLine], ['`fn` has no default value: `debounce` declares it without one', 'answer', 6]);
    const width = await own.ask('what is the default value of the parameter `width` of the function `fmt`?');
    assert.deepEqual([width.answer, width.citations[0]?.path], ['`width` has no default value: `fmt` declares it without one', 'lib/fmt.py']);
    assert.equal((await own.ask('what is the default value of the parameter `fill` of the function `fmt`?')).answer, "' '");
    assert.match((await own.ask('what does debounce do?')).answer, /^`debounce` \(lib\/debounce\.js:6\): Delays calls to fn/);
    // The default export's own line is its definition, not a use; `module.exports = { makeSearch }` names no default.
    const uses = await own.ask('who calls debounce?');
    assert.deepEqual(uses.references?.map((r) => `${r.path}:${r.startLine}`), ['lib/search.js:4']);
    assert.notEqual((await own.ask('where is search defined?')).answer, 'lib/search.js:7');
  });
  // Found where tests say the name far more often than the module does (qs's lib/parse.js).
  const cases = Array.from({ length: 12 }, (_, j) => Array.from({ length: 16 }, (_, i) => `  assert.deepEqual(qs.parse('a${j}=${i}&b=${i}'), { a${j}: '${i}', b: '${i}' });`).join('\n'));
  const calls = cases.map((c, j) => `test('parse case ${j}', function () {\n${c}\n});\n`).join('\n');
  await withShippedEngine({
    'lib/parse.js': "'use strict';\n\nvar utils = require('./utils');\n\nvar parseValues = function (str, options) {\n  return utils.split(str, options.delimiter);\n};\n\nmodule.exports = function (str, opts) {\n  var options = opts || {};\n  return parseValues(str, options);\n};\n",
    'lib/utils.js': 'exports.split = function (str, d) {\n  return str.split(d || "&");\n};\n',
    'lib/index.js': "var parse = require('./parse');\n\nmodule.exports = { parse: parse };\n",
    'test/parse.js': `var qs = require('../lib');\n\n${calls}`,
  }, async (own) => {
    assert.equal((await own.ask('where is parse defined?')).answer, 'lib/parse.js:9');
  });
});

test('an eslint rule is its file: placed at its export, documented by its file comment, its methods no calls', async () => {
  const rule = (doc: string, name: string): string =>
    `/**\n * @fileoverview ${doc}\n */\n"use strict";\n\nconst astUtils = require("./utils/ast-utils");\n\n/** @type {import('../shared/types').Rule} */\nmodule.exports = {\n    meta: { type: "problem" },\n    create(context) {\n        return astUtils.visit(context, "${name}");\n    }\n};\n`;
  await withShippedEngine({
    'lib/rules/no-unused-vars.js': rule('Rule to flag declared but unused variables', 'no-unused-vars'),
    'lib/rules/no-undef.js': rule('Rule to flag references to undeclared variables.', 'no-undef'),
    'lib/linter.js': 'const rules = { "no-unused-vars": require("./rules/no-unused-vars"), "no-undef": require("./rules/no-undef") };\nmodule.exports = { rules };\n',
  }, async (own) => {
    assert.equal((await own.ask('where is the no-unused-vars rule defined?')).answer, 'lib/rules/no-unused-vars.js:9');
    assert.equal((await own.ask('which file defines the no-undef rule?')).answer, 'lib/rules/no-undef.js:9');
    const what = await own.ask('what does the no-unused-vars rule do?');
    assert.equal(what.answer, '`no-unused-vars` (lib/rules/no-unused-vars.js:9): Rule to flag declared but unused variables');
    assert.deepEqual(what.citations.map((c) => [c.startLine, c.endLine]), [[1, 9]]);
    // `create(context) {` defines a method of the rule object; `astUtils.visit(...)` is a method call: no function is listed.
    assert.doesNotMatch((await own.ask('how does the no-undef rule work?')).answer, /`create`/);
  });
});

test("the reader's span for a question in words no form reads is evidence, not an answer, unless it places a word asked", async () => {
  await withShippedEngine({
    'stats.py': [
      'def count_lines(path):',
      '    """Counts the lines of a file."""',
      '    numlines = 0',
      '    with open(path) as f:',
      '        for _ in f:',
      '            numlines += 1',
      '    return numlines',
      '',
      '',
      'def is_package(name):',
      '    return name.endswith("__init__")',
      '',
      '',
      'def tally(values):',
      '    return sum(values)',
    ].join('\n'),
  }, async (own) => {
    // The reader's spans here are `numlines` and `def is_package`, stated as sure before.
    for (const [q, line] of [['numlines = ?', 'stats.py:3: numlines = 0'], ['tell me what is_package is about', 'stats.py:10: def is_package(name):']] as const) {
      const r = await own.ask(q);
      assert.equal(r.interpreted, undefined, 'a wording no form reads');
      assert.equal(r.confidence, 'evidence', r.answer);
      assert.equal(r.answer, `Not sure (low confidence): the closest evidence is ${line}`);
    }
    // A "where" question whose name is a plain word: a span on the line defining it is its place.
    const placed = await own.ask('where does tally get defined?');
    assert.equal(placed.interpreted, undefined, 'a wording no form reads');
    assert.equal(placed.confidence, 'answer', placed.answer);
    assert.deepEqual(placed.citations, [{ path: 'stats.py', startLine: 14, endLine: 14 }]);
  });
});

test("a function's parameters are its head as written; a class's, its constructor's; overloads, each", async () => {
  const pool = await ask('what arguments does ConnectionPool take?');
  assert.equal(pool.confidence, 'answer', pool.answer);
  assert.equal(pool.answer, '`ConnectionPool` (db/pool.py:20): def __init__(self, host, size=DEFAULT_POOL_SIZE, timeout=30.0)');
  assert.deepEqual(pool.citations, [{ path: 'db/pool.py', startLine: 20, endLine: 20 }]);
  assert.equal((await ask('how do I call open_connection?')).answer, '`open_connection` (db/connect.py:4): def open_connection(host, timeout, retries=3)');
  // A class whose constructor is a block of its own (a long doc comment and body between them).
  await withShippedEngine({
    'lib/store.js': [
      'class BigStore {',
      ...Array.from({ length: 30 }, (_, i) => `  /**\n   * Reads entry ${i} from the disk cache and the remote mirror.\n   */\n  read${i}(key) {\n    return this.cache.get(key + ${i}) ?? this.mirror.fetch(key, ${i});\n  }\n`),
      '  /**',
      '   * @param {string} root where the store keeps its files',
      '   */',
      '  constructor(root, { size = 64, mirror = null } = {}) {',
      '    this.root = root;',
      '  }',
      '}',
    ].join('\n'),
    'lib/plain.js': 'class Plain extends Base {\n  run() {\n    return 1;\n  }\n}\n',
  }, async (big) => {
    const head = await big.engine.inspect('lib/store.js:1');
    const ctor = await big.engine.inspect('lib/store.js:215');
    assert.notEqual(head.id, ctor.id, 'the constructor is not in the block of the class head');
    const r = await big.ask('what arguments does BigStore take?');
    assert.equal(r.answer, '`BigStore` (lib/store.js:215): constructor(root, { size = 64, mirror = null } = {})', r.answer);
    // A whole class read with no constructor in it declares none.
    assert.equal((await big.ask('what arguments does Plain take?')).answer, '`Plain` (lib/plain.js:1): class Plain extends Base (declares no constructor)');
  });
  assert.equal(
    (await ask('signature of pick')).answer,
    '`pick` (web/pick.ts:2): export function pick<T>(xs: T[]): T; export function pick<T>(xs: T[], n: number): T[]; export function pick<T>(xs: T[], n?: number): T | T[]',
  );
});

test("what a function returns: its declared type, an arrow's expression, its own return statements (not a nested function's)", async () => {
  await withShippedEngine({
    'a.py': 'def parse(text: str) -> dict:\n    if not text:\n        return {}\n    def helper(x):\n        return x * 2\n    items = [helper(t) for t in text]\n    return dict(items)\n',
    'b.ts': 'export async function fetchAll(\n  urls: string[],\n): Promise<Response[]> {\n  const out = urls.map((u) => {\n    return fetch(u);\n  });\n  return Promise.all(out);\n}\n\nexport const double = (x: number) => x * 2;\n',
  }, async (own) => {
    const parse = await own.ask('what does parse return?');
    assert.equal(parse.answer, '`parse` (a.py:1) is declared to return `dict`; returns: `{}` (a.py:3), `dict(items)` (a.py:7)');
    assert.deepEqual(parse.citations, [{ path: 'a.py', startLine: 1, endLine: 7 }]);
    assert.equal((await own.ask('what is the return type of fetchAll')).answer, '`fetchAll` (b.ts:1) is declared to return `Promise<Response[]>`; returns: `Promise.all(out)` (b.ts:7)');
    assert.equal((await own.ask('what does double return?')).answer, '`double` (b.ts:10) returns `x * 2`');
  });
});

test('an undocumented class is shown by the members it defines, as evidence; a documented one adds them to how it works', async () => {
  await withShippedEngine({
    'web/cart.ts': [
      'export class Cart {',
      '  private items: string[] = [];',
      '',
      '  add(item: string): void {',
      '    this.items.push(item);',
      '  }',
      '',
      '  remove(item: string): void {',
      '    this.items = this.items.filter((i) => i !== item);',
      '  }',
      '}',
      '',
      '/** A list of what is on sale this week. */',
      'export class Offers {',
      '  list(): string[] {',
      '    return [];',
      '  }',
      '}',
    ].join('\n'),
  }, async (own) => {
    const cart = await own.ask('what does Cart do?');
    assert.equal(cart.confidence, 'evidence', cart.answer);
    assert.equal(cart.answer, '`Cart` (web/cart.ts:1) has no documentation; it defines `add`, `remove` (in the lines read).');
    assert.equal((await own.ask('how does Offers work?')).answer, '`Offers` (web/cart.ts:14): A list of what is on sale this week. It defines `list` (in the lines read).');
  });
});

test('how a name works: its documentation and the functions its body calls; a class, its documentation and members', async () => {
  const open = await ask('How does open_connection work?');
  assert.equal(open.confidence, 'answer', open.answer);
  assert.equal(
    open.answer,
    '`open_connection` (db/connect.py:4): Opens a socket to host. Its body calls `create_connection` (by name; methods of objects are not listed).',
  );
  assert.deepEqual(
    open.citations.map((c) => `${c.path}:${c.startLine}-${c.endLine}`),
    ['db/connect.py:4-8', 'db/connect.py:4-4', 'db/connect.py:10-10'],
  );
  // Strings, comments and a nested function's head are no calls; a template literal's expressions are.
  const price = await ask('how is formatPrice implemented?');
  assert.equal(price.answer, '`formatPrice` (web/format.ts:4): Formats a price for display. Its body calls `toUnits`, `pad` (by name; methods of objects are not listed).');
  const pool = await ask('how does the ConnectionPool class work?');
  assert.equal(pool.answer, '`ConnectionPool` (db/pool.py:7): A pool of reusable connections to one host. It defines `__init__`, `acquire`, `close` (in the lines read).');
  // Without documentation, the calls alone.
  const acquire = await ask('how does the acquire method work?');
  assert.equal(acquire.answer, '`acquire` (db/pool.py:26) calls `PoolClosed`, `open_connection` (by name; methods of objects are not listed)');
});

test("a function's own calls are read from its body", async () => {
  const r = await ask('What does acquire call?');
  assert.equal(r.confidence, 'answer', r.answer);
  assert.equal(r.answer, '`acquire` (db/pool.py:26) calls `PoolClosed`, `open_connection` (by name; methods of objects are not listed)');
  // Its head, then the lines that call.
  assert.deepEqual(
    r.citations.map((c) => `${c.path}:${c.startLine}-${c.endLine}`),
    ['db/pool.py:26-26', 'db/pool.py:28-28', 'db/pool.py:29-29'],
  );
});

test('what a name does is answered from its documentation; without documentation its calls are evidence', async () => {
  const pool = await ask('What does ConnectionPool do?');
  assert.equal(pool.confidence, 'answer', pool.answer);
  assert.equal(pool.answer, '`ConnectionPool` (db/pool.py:7): A pool of reusable connections to one host.');
  assert.deepEqual(pool.citations, [{ path: 'db/pool.py', startLine: 7, endLine: 18 }]);
  const open = await ask('explain open_connection');
  assert.equal(open.answer, '`open_connection` (db/connect.py:4): Opens a socket to host.');
  // An undocumented constant is what it is assigned.
  assert.equal((await ask('what is `DEFAULT_POOL_SIZE` for?')).answer, '`DEFAULT_POOL_SIZE` (db/pool.py:4) = 10');
  // JSDoc: the summary without its markers, inline tags or the rule above it; tags follow it.
  assert.equal((await ask('What does retryRequest do?')).answer, '`retryRequest` (web/retry.ts:7): Retries a Request with backoff.');
  // A docstring quoted on one line; a function expression's documentation without its head.
  assert.equal((await ask('what does pairs do?')).answer, '`pairs` (db/connect.py:13): Yields the tokens two at a time.');
  assert.equal((await ask('what is sleep for?')).answer, '`sleep` (web/retry.ts:12): Waits the given number of milliseconds.');
  // Overload signatures under a linter directive: the implementation's doc comment is the answer.
  assert.equal((await ask('what does pick do?')).answer, '`pick` (web/pick.ts:7): Picks items at random from a list.');
  // A doc comment the chunker left in the block before the head is read with it.
  const head = await shipped.engine.inspect('web/flatten.ts:77');
  assert.ok(head.startLine > 4, `the summary is in the block before the head's (${head.startLine}-${head.endLine})`);
  const flatten = await ask('what does flattenRecords do?');
  assert.equal(flatten.answer, '`flattenRecords` (web/flatten.ts:77): Flattens nested lists of records into one list, keeping their order.');
  assert.deepEqual(flatten.citations, [{ path: 'web/flatten.ts', startLine: 3, endLine: 77 }]);
  // Without documentation, the functions its body calls, as evidence.
  const main = await ask('What does main do?');
  assert.equal(main.confidence, 'evidence', main.answer);
  assert.equal(main.answer, '`main` (db/cli.py:8) has no documentation; its body calls `ConnectionPool`, `PoolTimeout` (by name; methods of objects are not listed).');
  assert.deepEqual(main.citations[0], { path: 'db/cli.py', startLine: 8, endLine: 8 });
});
