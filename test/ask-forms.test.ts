// Questions the reader's span head answers badly, through the real engine with the shipped
// reader and gate: call chains followed hop by hop through the working memory and
// re-gating, and described functions found by their documentation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../src/core/engine.js';
import type { GateScorer } from '../src/core/gate/index.js';
import type { Reasoner } from '../src/core/reason/index.js';
import { stepChain } from '../src/core/reason/chain.js';
import { valueIn } from '../src/core/reason/value.js';
import { describedDefinition, describedWords } from '../src/core/reason/describe.js';
import { asksForWords, WORDS_NOTE } from '../src/core/reason/prose.js';
import { shippedEngine, type ShippedEngine } from './support/shipped.js';

const FILES: Record<string, string> = {
  'src/jobs/start.ts': [
    "import { runNow } from '../run/now';",
    '',
    '/** Starts a job right away. */',
    'export function startJob(job: Job): Handle {',
    '  const ready = prepareJob(job);',
    '  return runNow(ready);',
    '}',
    '',
    'function prepareJob(job: Job): Job {',
    '  return { ...job, tries: 0 };',
    '}',
  ].join('\n'),
  'src/run/now.ts': [
    "import { schedule } from '../sched/schedule';",
    '',
    '/** Runs a prepared job on the next tick. */',
    'export function runNow(job: Job): Handle {',
    '  return schedule(job, 0);',
    '}',
  ].join('\n'),
  'src/sched/schedule.ts': [
    '/** Queues a task to run after a delay in milliseconds. */',
    'export function schedule(task: Job, delay: number): Handle {',
    '  return setTimeout(() => task.run(), delay);',
    '}',
  ].join('\n'),
  'src/util/retry.ts': [
    '/** Retries a failing call with exponential backoff until it succeeds or gives up. */',
    'export function withRetry(call: () => Promise<void>, attempts = 3): Promise<void> {',
    '  return call().catch((e) => (attempts > 1 ? withRetry(call, attempts - 1) : Promise.reject(e)));',
    '}',
  ].join('\n'),
  'README.md': '# jobs\n\nstartJob runs a job now; schedule queues it.\n',
  'py/tests/test_parse.py': [
    'import unittest',
    'from .. import bibparse as bp',
    '',
    '',
    'class TestParse(unittest.TestCase):',
    '    def test_article(self):',
    '        txt = """',
    '@ARTICLE{key,',
    '  title = {A title},',
    '}',
    '"""',
    '        res = bp.parse_entries(txt)',
    '        self.assertEqual(len(res), 1)',
  ].join('\n'),
  'src/net/fetch.ts': [
    "export const RETRY_HEADER = 'x-retry'; // sent on every retry",
    'export const TIMEOUT_MS = 30_000;',
    '',
    'export function fetchWithRetry(url: string, attempts?: number): Promise<Response>;',
    'export function fetchWithRetry(',
    '  url: string,',
    '  attempts: number = TIMEOUT_MS > 0 ? 3 : 1,',
    '  backoff = { base: 100, factor: 2 },',
    '): Promise<Response> {',
    '  return fetch(url, { headers: { [RETRY_HEADER]: String(attempts) } });',
    '}',
  ].join('\n'),
  // A body long enough to span blocks: its one call of another file's function comes late.
  'src/render/tree.js': [
    "import { dropNode, isList } from './nodes';",
    '',
    'export function renderTree(node, depth) {',
    '  if (isList(node)) depth += 1;',
    '  // fakeHelper(node) was the old way',
    ...Array.from({ length: 160 }, (_, i) => `  const part${i} = node.children[${i}] * depth + ${i};`),
    '  dropNode(node);',
    '  return depth;',
    '}',
  ].join('\n'),
  'src/render/nodes.js': [
    'export const isList = Array.isArray;',
    '',
    'export function dropNode(node) {',
    '  node.parent = null;',
    '}',
    '',
    'export function fakeHelper(node) {',
    '  return node;',
    '}',
  ].join('\n'),
  // A method head spread over lines, and calls of it spread the same way.
  'src/workspace/service.ts': [
    'export class WorkspaceService {',
    '  constructor(private readonly cache: Cache) {}',
    '',
    '  async resolveWorkspace(',
    '    uri: string,',
    '    token: CancellationToken,',
    '  ): Promise<Workspace> {',
    '    return this.cache.load(uri, token);',
    '  }',
    '}',
  ].join('\n'),
  'src/workspace/open.ts': [
    "import { WorkspaceService } from './service';",
    '',
    'export async function openFolder(service: WorkspaceService, uri: string) {',
    '  const ws = await service.resolveWorkspace(',
    '    uri,',
    '    CancellationToken.None,',
    '  );',
    '  return ws;',
    '}',
  ].join('\n'),
  'src/ops/throwIfEmpty.ts': [
    'export function throwIfEmpty<T>(errorFactory: () => any = defaultErrorFactory): MonoTypeOperatorFunction<T> {',
    '  return (source) => source;',
    '}',
    '',
    'function defaultErrorFactory() {',
    "  return new Error('empty');",
    '}',
  ].join('\n'),
  'py/bibparse.py': [
    'def parse_entries(text):',
    '    """Split a bibliography into its entries."""',
    '    return [e for e in text.split("@") if e.strip()]',
  ].join('\n'),
};

let shipped: ShippedEngine;
let engine: Engine;
let reader: Reasoner;
let gate: GateScorer | null;

before(async () => {
  shipped = await shippedEngine(FILES);
  ({ engine, reader, gate } = shipped);
});

after(() => shipped.close());

test('a call chain is followed through the memory: the callee defined in another file, then its callee', async () => {
  const one = await engine.ask('The function `startJob` calls exactly one function defined in another file. Which function is it?', { mode: 'gated', reasoner: reader, gate });
  assert.equal(one.answer, 'runNow');
  assert.equal(one.confidence, 'answer');
  assert.deepEqual(one.citations, [{ path: 'src/run/now.ts', startLine: 4, endLine: 4 }]);

  const two = await engine.ask(
    'The function `startJob` calls exactly one function defined in another file; that function calls exactly one function defined in a third file. Which function is that?',
    { mode: 'gated', reasoner: reader, gate },
  );
  assert.equal(two.answer, 'schedule');
  assert.deepEqual(two.citations, [{ path: 'src/sched/schedule.ts', startLine: 2, endLine: 2 }]);
  const memory = two.steps.filter((e) => e.type === 'memory').map((e) => e.memory ?? '').pop() ?? '';
  assert.match(memory, /^via startJob src\/jobs\/start\.ts:4-7 calls `prepareJob` `runNow`$/m, 'the first hop and its calls are in the memory');
  assert.match(memory, /^via runNow src\/run\/now\.ts:4-6 calls `schedule`$/m, 'and the second');
  const rounds = new Set(two.steps.filter((e) => e.type === 'gate').map((e) => e.step));
  assert.ok(rounds.size >= 3, `the gate ran again after each hop (${rounds.size} rounds)`);
});

test('a Python method calling a function through its module, past a multi-line string, is followed', async () => {
  const r = await engine.ask('The method `test_article` of the class `TestParse` calls exactly one function defined in another file. Which function is it?', { mode: 'gated', reasoner: reader, gate });
  assert.equal(r.answer, 'parse_entries');
  assert.deepEqual(r.citations, [{ path: 'py/bibparse.py', startLine: 1, endLine: 1 }]);
});

test('a body that spans blocks is read on block by block until the call into another file', async () => {
  const r = await engine.ask('The function `renderTree` calls exactly one function defined in another file. Which function is it?', { mode: 'gated', reasoner: reader, gate });
  // Not `isList` (an alias, no function of nodes.js), nor `fakeHelper` (named in a comment).
  assert.equal(r.answer, 'dropNode');
  assert.deepEqual(r.citations, [{ path: 'src/render/nodes.js', startLine: 3, endLine: 3 }]);
  const reads = r.steps.filter((e) => e.type === 'read' && e.path === 'src/render/tree.js').map((e) => e.startLine ?? 0);
  assert.ok(reads.length >= 2, `the body's blocks were read in turn (${reads.join(', ')})`);
  assert.deepEqual(reads, [...reads].sort((a, b) => a - b), 'in order');
  // The hop is written again as each block adds to it: one line in the memory, with every call found.
  const memory = r.steps.filter((e) => e.type === 'memory').map((e) => e.memory ?? '').pop() ?? '';
  const vias = memory.split('\n').filter((l) => l.startsWith('via renderTree'));
  assert.equal(vias.length, 1, memory);
  assert.match(vias[0]!, /^via renderTree src\/render\/tree\.js:3-\d+ calls `isList` `dropNode`$/);
});

test("what a body calls depends on its language: `not(` is a call in JavaScript, a keyword in Python", () => {
  const js = stepChain({ start: 'partition', hops: 1 }, '', { path: 'src/p.ts', startLine: 1, text: 'export function partition(p) {\n  return [filter(p), filter(not(p))];\n}' });
  assert.deepEqual(js?.hop?.calls, ['filter', 'not']);
  const py = stepChain({ start: 'check', hops: 1 }, '', { path: 'lib/c.py', startLine: 1, text: 'def check(x):\n    return not(x) and (valid(x))' });
  assert.deepEqual(py?.hop?.calls, ['valid']);
});

test("a Python body's calls are not its docstring's examples, nor names it binds itself", () => {
  const text = [
    'def one_of(strs: Union[Iterable[str], str], caseless=False):',
    '    """',
    '    Example::',
    '        var = Word(alphas)',
    '    """',
    '    isequal = lambda a, b: a.upper() == b.upper()',
    '    symbols = strs.split()',
    '    if isequal(symbols[0], "x"):',
    '        return _escape_chars(symbols)',
    '    warnings.warn("deprecated")',
    '    return util.make(symbols)',
  ].join('\n');
  const step = stepChain({ start: 'one_of', hops: 1 }, '', { path: 'pyparsing/helpers.py', startLine: 1, text });
  assert.deepEqual(step?.hop?.calls, ['_escape_chars', 'warn', 'make']);
});

test('a function defined under a module-level branch is a callee; a method of the same name is not', () => {
  const chain = { start: 'test_reraise', hops: 1 };
  const memory = 'via test_reraise test_six.py:565-606 calls `reraise`';
  const branch = stepChain(chain, memory, { path: 'six.py', startLine: 710, text: 'if PY3:\n    exec_ = getattr(moves.builtins, "exec")\n\n    def reraise(tp, value, tb=None):\n        raise value\n\nelse:\n    pass' });
  assert.deepEqual(branch?.answer, { name: 'reraise', path: 'six.py', line: 713 });
  const method = stepChain(chain, memory, { path: 'six.py', startLine: 710, text: 'class Six:\n    def reraise(self, tp):\n        raise tp' });
  assert.equal(method?.answer, undefined);
});

test("a body continued in the next block is measured from its head's indentation", () => {
  const chain = { start: 'handle', hops: 1 };
  // The continuation starts deep inside the body and ends with a loop's closer: the body goes on.
  const inner = stepChain(chain, 'via handle src/a.js:1-5…', { path: 'src/a.js', startLine: 7, text: '\t\tif (x) {\n\t\t\tfirst(x);\n\t\t}\n\t}' });
  assert.deepEqual([inner?.hop?.calls, inner?.hop?.open], [['first'], true]);
  assert.match(inner!.facts[0]!, /^via handle src\/a\.js:1-10… calls `first`$/);
  // The function's own closer ends it.
  const end = stepChain(chain, 'via handle src/a.js:1-10… calls `first`', { path: 'src/a.js', startLine: 11, text: '\tlast(y);\n}\nfunction next() {\n\tother();\n}' });
  assert.deepEqual([end?.hop?.calls, end?.hop?.open, end?.hop?.endLine], [['first', 'last'], false, 12]);
  // A method's head is indented: the next method at the same depth is no continuation.
  const method = stepChain(chain, 'via handle app/m.py:10-20…4', { path: 'app/m.py', startLine: 22, text: '    def other(self):\n        helper()' });
  assert.equal(method?.hop?.name === 'handle' ? method.hop.calls.includes('helper') : false, false);
});

test('a parameter default is read past a type annotation with brackets, commas and arrows', () => {
  const head = {
    startLine: 440,
    text: [
      '    def _build_request_auth(',
      '        self,',
      '        request: Request,',
      '        auth: typing.Union[AuthTypes, UseClientDefault, None] = USE_CLIENT_DEFAULT,',
      '        retries: Dict[str, int] = {"a": 1},',
      '    ) -> Auth:',
    ].join('\n'),
  };
  assert.deepEqual(valueIn({ name: 'auth', fn: '_build_request_auth' }, head), { text: 'USE_CLIENT_DEFAULT', line: 443 });
  assert.deepEqual(valueIn({ name: 'retries', fn: '_build_request_auth' }, head), { text: '{"a": 1}', line: 444 });
  // Listed with no default: said so, at the head.
  assert.deepEqual(valueIn({ name: 'request', fn: '_build_request_auth' }, head), { text: '', line: 440, required: true });
  assert.equal(valueIn({ name: 'missing', fn: '_build_request_auth' }, head), null, 'not its parameter');
  // A parameter list of a parameter a line, longer than any spread head: the default is read where the list closes.
  const long = ['def _make_iterencode(markers, _default,', ...Array.from({ length: 18 }, (_, i) => `        p${i}=make(${i}),`), '        isinstance=isinstance,', '        ):', '    def _iterencode(o, isinstance=None):', '        return o'];
  assert.deepEqual(valueIn({ name: 'isinstance', fn: '_make_iterencode' }, { startLine: 421, text: long.join('\n') }), { text: 'isinstance', line: 440 });
  const ts = { startLine: 1, text: 'export function f(cb: (a: number, b: string) => void = noop, n: Map<string, number> = new Map()) {' };
  assert.deepEqual(valueIn({ name: 'cb', fn: 'f' }, ts), { text: 'noop', line: 1 });
  assert.deepEqual(valueIn({ name: 'n', fn: 'f' }, ts), { text: 'new Map()', line: 1 });
  // An annotation spread over lines: the default is read where the annotation ends.
  const spread = {
    startLine: 95,
    text: ['export function fromFetch<T>(', '  input: string | Request,', '  initWithSelector: RequestInit & {', '    selector?: (response: Response) => ObservableInput<T>;', '  } = {}', '): Observable<Response | T> {'].join('\n'),
  };
  assert.deepEqual(valueIn({ name: 'initWithSelector', fn: 'fromFetch' }, spread), { text: '{}', line: 99 });
  assert.deepEqual(valueIn({ name: 'input', fn: 'fromFetch' }, spread), { text: '', line: 95, required: true });
  assert.equal(valueIn({ name: 'selector', fn: 'fromFetch' }, spread), null, "a member of a parameter's type is no parameter");
  // An overload signature has no body: the implementation, maybe in another block, may give the default.
  const overload = { startLine: 10, text: 'export function mergeMapTo<O>(innerObservable: O, concurrent?: number): OperatorFunction<unknown, O>;' };
  assert.equal(valueIn({ name: 'concurrent', fn: 'mergeMapTo' }, overload), null);
});

test('a value is read from its definition: constants, and parameter defaults past overload signatures', async () => {
  const ask = (q: string) => engine.ask(q, { mode: 'gated', reasoner: reader, gate });
  const header = await ask('What is the value of the constant `RETRY_HEADER`?');
  assert.equal(header.answer, "'x-retry'");
  assert.deepEqual(header.citations, [{ path: 'src/net/fetch.ts', startLine: 1, endLine: 1 }]);
  assert.equal((await ask('What is the value of the constant `TIMEOUT_MS`?')).answer, '30_000');
  const attempts = await ask('What is the default value of the parameter `attempts` of the function `fetchWithRetry`?');
  assert.equal(attempts.answer, 'TIMEOUT_MS > 0 ? 3 : 1');
  assert.deepEqual(attempts.citations, [{ path: 'src/net/fetch.ts', startLine: 7, endLine: 7 }]);
  assert.equal((await ask('What is the default value of the parameter `backoff` of the function `fetchWithRetry`?')).answer, '{ base: 100, factor: 2 }');
  // A parameter whose type is a function type: the default comes after the arrow.
  assert.equal((await ask('What is the default value of the parameter `errorFactory` of the function `throwIfEmpty`?')).answer, 'defaultErrorFactory');
  const missing = await ask('What is the value of the constant `MAX_SOCKETS`?');
  assert.notEqual(missing.confidence, 'answer', missing.answer);
});

test('a chain whose next hop is nowhere in the workspace is not answered', async () => {
  const r = await engine.ask('The function `withRetry` calls exactly one function defined in another file. Which function is it?', { mode: 'gated', reasoner: reader, gate });
  assert.notEqual(r.confidence, 'answer', r.answer);
});

test('a place question is answered at the line that defines the name, its head spread over lines', async () => {
  const r = await engine.ask('Where is the method `resolveWorkspace` defined?', { mode: 'gated', reasoner: reader, gate });
  assert.equal(r.confidence, 'answer');
  assert.equal(r.answer, 'src/workspace/service.ts:4');
  assert.deepEqual(r.citations, [{ path: 'src/workspace/service.ts', startLine: 4, endLine: 4 }]);
});

test('of two definitions that say all of a description, the one whose documentation says nothing else is meant', () => {
  const block = {
    startLine: 10,
    text: [
      'def expand_named_state_definition(source, loc, tokens):',
      '    """',
      '    Parse action to convert statemachine with named transitions to corresponding Python',
      '    classes and methods',
      '    """',
      '    return tokens',
      '',
      'def expand_state_definition(source, loc, tokens):',
      '    """',
      '    Parse action to convert statemachine to corresponding Python classes and methods',
      '    """',
      '    return tokens',
    ].join('\n'),
  };
  const words = describedWords('Which function does the following: "Parse action to convert statemachine to corresponding Python classes and methods"? Give its name.');
  assert.ok(words);
  const d = describedDefinition(words, block);
  assert.equal(d?.name, 'expand_state_definition');
  assert.equal(d?.line, 17);
  assert.equal(d?.score, 1);
  assert.equal(d?.precision, 1);
});

test('a described function is found by its documentation and cited at its head', async () => {
  const r = await engine.ask('Which function does the following: "Queues a task to run after a delay in milliseconds."? Give its name.', { mode: 'gated', reasoner: reader, gate });
  assert.equal(r.answer, 'schedule');
  assert.equal(r.confidence, 'answer');
  assert.deepEqual(r.citations, [{ path: 'src/sched/schedule.ts', startLine: 2, endLine: 2 }]);
  const retry = await engine.ask('Which function retries a failing call with backoff?', { mode: 'gated', reasoner: reader, gate });
  assert.equal(retry.answer, 'withRetry');
  // Code inside the quoted description is part of it.
  const quoted = await engine.ask('Which function does the following: "Retries a failing `call` with exponential backoff until it succeeds."? Give its name.', { mode: 'gated', reasoner: reader, gate });
  assert.equal(quoted.answer, 'withRetry');
  // A description that quotes words itself is whole from its first quote to its last.
  const inner = await engine.ask('Which function does the following: "Retries a "failing" call with exponential backoff until it `succeeds`."? Give its name.', { mode: 'gated', reasoner: reader, gate });
  assert.equal(inner.answer, 'withRetry');
  assert.equal(inner.confidence, 'answer');
});

test('which questions ask for an explanation in words', () => {
  for (const q of ['How does `withRetry` handle failures?', 'Why is the cache cleared twice?', 'Explain the scheduler.', 'Can you describe how jobs start?', 'What does the semi-spacing rule check?', 'What does `runNow` do?', 'What is the purpose of `prepareJob`?']) {
    assert.ok(asksForWords(q), q);
  }
  for (const q of ['How many attempts does `withRetry` make?', 'Where is `schedule` defined?', 'What is the value of the constant `TIMEOUT_MS`?', 'What does `runNow` return?', 'Which function queues a task?']) {
    assert.ok(!asksForWords(q), q);
  }
});

test('an explanation is not guessed: the built-in reasoner gives the code it found, as evidence, and says why', async () => {
  const r = await engine.ask('How does `withRetry` handle failures?', { mode: 'gated', reasoner: reader, gate });
  assert.equal(r.confidence, 'evidence');
  assert.ok(r.answer.startsWith(WORDS_NOTE), r.answer);
  assert.ok(r.citations.length >= 1);
  assert.equal(r.citations[0]?.path, 'src/util/retry.ts', JSON.stringify(r.citations));
  assert.match(r.answer, /src\/util\/retry\.ts:1-4: Retries a failing call/);
});
