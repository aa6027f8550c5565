import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchoredLines, keptWords, StructuralCompressor } from '../src/core/compress/index.js';
import { sha256Hex } from '../src/core/hash.js';
import { countTokens } from '../src/core/tokens.js';
import { CancelledError, type Chunk } from '../src/core/types.js';

function chunk(path: string, text: string, startLine = 1, symbols: string[] = []): Chunk {
  const lines = text.split('\n').length;
  return { id: sha256Hex(path + startLine).slice(0, 24), path, startLine, endLine: startLine + lines - 1, lang: 'ts', symbols, text, tokens: countTokens(text), hash: sha256Hex(text) };
}

const CLIENT = `import { request } from './http';
import {
  backoff,
  jitter,
} from './timing';

/**
 * Retries failed requests with exponential backoff.
 * Used by every API client.
 */
export const RETRY_BASE_MS = 250;
export const MAX_ATTEMPTS = 5;

export class RetryingClient {
  private attempts = 0;

  constructor(private readonly baseUrl: string) {}

  async send(path: string, body: unknown): Promise<Response> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const started = Date.now();
      const res = await request(this.baseUrl + path, { method: 'POST', body: JSON.stringify(body) });
      const elapsed = Date.now() - started;
      this.attempts += 1;
      console.debug('attempt', attempt, 'took', elapsed, 'ms with status', res.status);
      if (res.ok) {
        return res;
      }
      const wait = backoff(RETRY_BASE_MS, attempt) + jitter(elapsed, attempt * 3 + 1);
      await new Promise((resolve) => setTimeout(resolve, wait));
      console.debug('retrying', path, 'after', wait, 'ms; attempts so far', this.attempts);
    }
    throw new Error('gave up after ' + MAX_ATTEMPTS + ' attempts');
  }
}`;

test('keeps signatures, constants, doc and imports within the ratio, with line anchors', async () => {
  const c = new StructuralCompressor({ dim: 64, ratio: 0.35 });
  const ch = chunk('src/client.ts', CLIENT, 40);
  const [out] = await c.compress([ch]);
  assert.ok(out);
  assert.ok(out.compressedTokens <= Math.floor(ch.tokens * 0.35), `${out.compressedTokens} of ${ch.tokens}`);
  assert.equal(out.compressedTokens, countTokens(out.compressed));
  const text = out.compressed;
  for (const kept of ['export const RETRY_BASE_MS = 250;', 'export const MAX_ATTEMPTS = 5;', 'export class RetryingClient {', 'async send(path: string, body: unknown): Promise<Response> {', 'Retries failed requests with exponential backoff.']) {
    assert.ok(text.includes(kept), `keeps ${kept}\n${text}`);
  }
  assert.match(text, /imports: \.\/http\{request\}; \.\/timing\{backoff, jitter,?\}/);
  assert.ok(!text.includes('console.debug'), 'ordinary statements go first');
  // every anchor points at the source line it quotes
  const source = CLIENT.split('\n');
  for (const line of text.split('\n')) {
    const m = /^(\d+)\| (.*)$/.exec(line);
    assert.ok(m, line);
    if (m[2]!.startsWith('imports:')) continue;
    assert.ok(source[Number(m[1]) - 40]!.includes(m[2]!.trim().replace(/…$/, '')), line);
  }
});

test('the text form reads back by line: what a compressed block still says of each source line', async () => {
  const c = new StructuralCompressor({ dim: 64, ratio: 0.35 });
  const [out] = await c.compress([chunk('src/client.ts', CLIENT, 40)]);
  const kept = anchoredLines(out!.compressed);
  const source = CLIENT.split('\n');
  const line = (n: number): string => source[n - 40]!;
  // A constant's line is kept whole; an ordinary statement is dropped.
  const constant = source.indexOf('export const MAX_ATTEMPTS = 5;') + 40;
  assert.deepEqual(keptWords(line(constant), kept.get(constant)), { kept: 4, total: 4 });
  const debug = source.findIndex((l) => l.includes("console.debug('attempt'")) + 40;
  assert.equal(kept.get(debug), undefined);
  assert.deepEqual(keptWords(line(debug), kept.get(debug)), { kept: 0, total: 11 });
  // A line cut to fit keeps its first words; punctuation never counts, and each word is matched once.
  assert.deepEqual(keptWords('f(a, a, b)', 'f(a …'), { kept: 2, total: 4 });
  assert.deepEqual([...anchoredLines('7| x = 1\nnot an anchor\n9|  y…').entries()], [[7, 'x = 1'], [9, ' y']]);
});

test('a lower ratio keeps less, and the priority order decides what', async () => {
  const ch = chunk('src/client.ts', CLIENT);
  const [loose] = await new StructuralCompressor({ ratio: 0.8 }).compress([ch]);
  const [tight] = await new StructuralCompressor({ ratio: 0.15 }).compress([ch]);
  assert.ok(loose && tight);
  assert.ok(tight.compressedTokens <= Math.max(24, Math.floor(ch.tokens * 0.15)));
  assert.ok(loose.compressedTokens > tight.compressedTokens);
  assert.ok(tight.compressed.includes('RETRY_BASE_MS = 250'));
  assert.ok(loose.compressed.includes('return res;'));
  assert.throws(() => new StructuralCompressor({ ratio: 0 }), RangeError);
});

test('python: keeps def/class heads and the first docstring line', async () => {
  const py = ['import os', 'from typing import List, Dict', '', 'TIMEOUT_SECONDS = 30', '', 'class Loader:', '    """Loads shards from disk.', '', '    Long description here.', '    """', '', '    def load(self, paths: List[str]) -> Dict[str, bytes]:', ...Array.from({ length: 30 }, (_, i) => `        data_${i} = open(paths[${i}]).read() + str(os.getpid()) + "suffix"`), '        return {}'].join('\n');
  const [out] = await new StructuralCompressor({ ratio: 0.35 }).compress([chunk('loader.py', py)]);
  assert.ok(out);
  for (const kept of ['TIMEOUT_SECONDS = 30', 'class Loader:', 'def load(self, paths: List[str]) -> Dict[str, bytes]:', 'Loads shards from disk.', 'imports: os; typing{List, Dict}']) {
    assert.ok(out.compressed.includes(kept), `keeps ${kept}\n${out.compressed}`);
  }
  assert.ok(!out.compressed.includes('Long description'));
});

test('deterministic output and normalised vectors of the given dimension', async () => {
  const chunks = [chunk('a.ts', CLIENT), chunk('b.ts', 'export const x = 1;')];
  const one = await new StructuralCompressor({ dim: 128 }).compress(chunks);
  const two = await new StructuralCompressor({ dim: 128 }).compress(chunks);
  assert.deepEqual(one.map((o) => o.compressed), two.map((o) => o.compressed));
  for (let i = 0; i < one.length; i++) {
    assert.equal(one[i]!.vector.length, 128);
    assert.deepEqual(Array.from(one[i]!.vector), Array.from(two[i]!.vector));
    const norm = Math.hypot(...one[i]!.vector);
    assert.ok(Math.abs(norm - 1) < 1e-5);
  }
  assert.deepEqual(Array.from(await new StructuralCompressor({ dim: 128 }).embedQuery('nothing')), Array.from(await new StructuralCompressor({ dim: 128 }).embedQuery('nothing')));
});

test('a question recalls the chunk that defines what it asks about', async () => {
  const c = new StructuralCompressor();
  const chunks = [
    chunk('src/net/retry.ts', 'export function retryDelay(attempt: number): number {\n  const base = config.retryBaseMs;\n  return base * 2 ** attempt;\n}', 1, ['retryDelay']),
    chunk('src/ui/theme.ts', 'export const theme = { primaryColor: "#333", fontSize: 14 };\nexport function applyTheme(el: HTMLElement) { el.style.color = theme.primaryColor; }'),
    chunk('src/db/pool.ts', 'export class ConnectionPool {\n  acquire(): Connection { return this.idle.pop() ?? this.open(); }\n  release(c: Connection) { this.idle.push(c); }\n}'),
    chunk('src/auth/token.ts', 'export function parseJwtToken(raw: string) {\n  const [header, payload] = raw.split(".");\n  return JSON.parse(atob(payload));\n}'),
  ];
  const vecs = (await c.compress(chunks)).map((o) => o.vector);
  const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
  const best = async (q: string): Promise<string> => {
    const v = await c.embedQuery(q);
    let top = 0;
    for (let i = 1; i < vecs.length; i++) if (dot(v, vecs[i]!) > dot(v, vecs[top]!)) top = i;
    return chunks[top]!.path;
  };
  assert.equal(await best('where is the retry delay configured?'), 'src/net/retry.ts');
  assert.equal(await best('how are database connections pooled'), 'src/db/pool.ts');
  assert.equal(await best('which function parses JWT tokens'), 'src/auth/token.ts');
  assert.equal(await best('what is the primary color of the theme'), 'src/ui/theme.ts');
});

test('compress honours an aborted signal', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(new StructuralCompressor().compress([chunk('a.ts', 'x')], ac.signal), CancelledError);
});

test('namesIn finds the code names a question asks about; mentionsAny matches whole identifiers', async () => {
  const { namesIn, mentionsAny } = await import('../src/core/compress/identifiers.js');
  assert.deepEqual(namesIn('What is the value of the constant `RBDT_FILE`?'), ['RBDT_FILE']);
  assert.deepEqual(namesIn('where is parseHTTPResponse defined, and what does `the config` hold'), ['config', 'parseHTTPResponse']);
  assert.deepEqual(namesIn('how does the retry delay grow?'), []);
  assert.deepEqual(namesIn('`const` and `$el` and v2'), ['$el', 'v2']);
  // A stop word alone in backticks is a name (rxjs defines `not` and `every`); in a phrase, or a keyword, it is not.
  assert.deepEqual(namesIn('Where is the function `not` defined? And `every`?'), ['not', 'every']);
  assert.deepEqual(namesIn('What does `return not x` do, and `function`?'), ['x']);
  assert.ok(mentionsAny('const RBDT_FILE = 7;', ['RBDT_FILE']));
  assert.ok(!mentionsAny('const RBDT_FILE_DEPENDENCIES = 9;', ['RBDT_FILE']));
  assert.ok(!mentionsAny('const X_RBDT_FILE = 9;', ['RBDT_FILE']));
  assert.ok(mentionsAny('f(RBDT_FILE_X, RBDT_FILE)', ['RBDT_FILE']));
  assert.ok(!mentionsAny('anything', []));
});

test('nameRanges finds whole identifiers, in UTF-8 bytes', async () => {
  const { nameRanges, mentionsAny } = await import('../src/core/compress/identifiers.js');
  assert.deepEqual(nameRanges('é = LIMIT + LIMIT_X + f(LIMIT)', ['LIMIT']), [[5, 10], [25, 30]]);
  assert.deepEqual(nameRanges('LIMIT_X = 1', ['LIMIT']), []);
  assert.ok(mentionsAny('f(LIMIT)', ['LIMIT']) && !mentionsAny('aLIMIT', ['LIMIT']));
});

test('definesAny tells a definition of a name from a use of it', async () => {
  const { definesAny } = await import('../src/core/compress/identifiers.js');
  for (const line of ['export const RBDT_FILE = 7;', 'def parse_value(x):', '  static async load(dir) {', 'class Store:', '    self.limit: int = 3', 'RETRIES = 5', 'export default function* walk(a) {', 'pub fn walk(a: u8) {'])
    assert.ok(definesAny(line, ['RBDT_FILE', 'parse_value', 'load', 'Store', 'limit', 'RETRIES', 'walk']), line);
  for (const line of ['case RBDT_FILE:', 'load(dir);', 'if (RETRIES == 5) {', 'return new Store();', 'const other = RBDT_FILE;', 'x = load(dir) {'])
    assert.ok(!definesAny(line, ['RBDT_FILE', 'load', 'RETRIES', 'Store']), line);
  assert.ok(definesAny('const $el = 1', ['$el']) && !definesAny('const a$el = 1', ['$el']));
  // A binding of what another file defines is no definition.
  assert.ok(!definesAny('const NormalModule = require("./NormalModule");', ['NormalModule']));
  // A default export defines the name of its file (its folder's for an index file), and only there.
  for (const line of ['module.exports = function (fn, wait = 100) {', 'exports = module.exports = async (a) => a;', 'export default class {', 'export default x => x * 2;', 'module.exports = {'])
    assert.ok(definesAny(line, ['debounce'], 'lib/debounce.js') && !definesAny(line, ['debounce']) && !definesAny(line, ['debounce'], 'lib/throttle.js'), line);
  assert.ok(definesAny('export default (v) => typeof v === "number";', ['isNumber'], 'is-number/index.ts'));
  for (const line of ['module.exports = { debounce };', 'module.exports = debounce;'])
    assert.ok(!definesAny(line, ['debounce'], 'lib/debounce.js'), line);
});

test('a method head spread over lines defines its name; a call spread the same way does not', async () => {
  const { definer } = await import('../src/core/compress/identifiers.js');
  const defines = definer(['pipe', 'resolve']);
  const head = ['  pipe(', '    ...operations: OperatorFunction<any, any>[]', '  ): Observable<any> {', '    return pipeFromArray(operations)(this);', '  }'];
  assert.deepEqual(head.flatMap((l, i) => (defines(l, i, head) ? [i] : [])), [0]);
  assert.ok(!defines(head[0]!), 'a line alone cannot tell');
  const generic = ['  private async resolve<T>(', '    uri: string,', '  ) {'];
  assert.ok(generic.some(defines));
  const call = ['  pipe(', '    source,', '    map((x) => x * 2),', '  );'];
  assert.ok(!call.some(defines));
  // The parenthesis must close within a dozen lines.
  const runaway = ['resolve(', ...Array.from({ length: 14 }, (_, i) => `  a${i},`), ') {'];
  assert.ok(!runaway.some(defines));
});
