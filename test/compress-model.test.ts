// The learned compressor through its public interface, on the tiny fixture model
// (test/fixtures/tiny-compressor, random weights, made by training/engram_training/fixture_compressor.py):
// the text form is exact source text on the right line numbers, vectors are unit length with
// the config's dim, cancellation, clear errors for broken folders with a structural fallback,
// and indexing a real repo with --compressor DIR end to end.
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../src/cli/main.js';
import { ModelCompressor, openCompressor, StructuralCompressor } from '../src/core/compress/index.js';
import { Engine } from '../src/core/engine.js';
import { readSettings, serverLaunch } from '../src/extension/settings.js';
import { sha256Hex } from '../src/core/hash.js';
import { listModels } from '../src/core/models/registry.js';
import { countTokens } from '../src/core/tokens.js';
import { CancelledError, UserError, type Chunk } from '../src/core/types.js';
import { memoryIO, type MemoryIO } from './support/cli-io.js';
import { sampleFiles, writeFiles } from './support/repo.js';

const FIXTURE = resolve(__dirname, 'fixtures', 'tiny-compressor');
const CONFIG = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as { dim: number; version: string; name: string };

function chunk(text: string, startLine = 1, path = 'src/a.ts'): Chunk {
  const lines = text.split('\n').length;
  return { id: `${path}:${startLine}`, path, startLine, endLine: startLine + lines - 1, lang: 'typescript', symbols: [], text, tokens: countTokens(text), hash: sha256Hex(text) };
}

/** Every `N| rest` line names a line of the chunk, and rest's words occur in that line, in order. */
function assertExactText(c: Chunk, compressed: string): number[] {
  const src = c.text.split('\n');
  const seen: number[] = [];
  for (const out of compressed.split('\n').filter(Boolean)) {
    const m = /^(\d+)\| (.+)$/.exec(out);
    assert.ok(m, `bad line ${JSON.stringify(out)}`);
    const n = Number(m[1]);
    assert.ok(n >= c.startLine && n <= c.endLine, `line ${n} outside ${c.startLine}-${c.endLine}`);
    assert.ok(seen.length === 0 || n > seen[seen.length - 1]!, 'lines in order, each once');
    seen.push(n);
    const line = src[n - c.startLine]!;
    let at = 0;
    for (const word of m[2]!.split(' ')) {
      const i = line.indexOf(word, at);
      assert.ok(i >= 0, `${JSON.stringify(word)} not in line ${n} ${JSON.stringify(line)} after ${at}`);
      at = i + word.length;
    }
  }
  return seen;
}

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

function cliIO(cwd: string, env: NodeJS.ProcessEnv = {}): MemoryIO {
  return memoryIO({ ...process.env, ENGRAM_COMPRESSOR: '', ...env }, cwd);
}

const CODE = [
  '// Network retries: exponential backoff with jitter (délai en ms).',
  'export const RETRY_BASE_MS = 250;',
  '',
  'export async function fetchWithRetry(url: string, tries = 3): Promise<Response> {',
  '  for (let i = 0; i < tries; i++) {',
  '    try {',
  '      return await fetch(url);',
  '    } catch (err) {',
  '      await sleep(RETRY_BASE_MS * 2 ** i + Math.random() * 10);',
  '    }',
  '  }',
  "  throw new Error('unreachable: ' + url + ' ✓');",
  '}',
].join('\n');

describe('ModelCompressor (tiny fixture)', () => {
  let model: ModelCompressor;
  const tmp: string[] = [];

  before(async () => {
    model = await ModelCompressor.load(FIXTURE, { threads: 1 });
  });
  /** A copy of the fixture model in a temp folder, its config.json replaced when given (an object, or raw text). */
  function fixtureCopy(name: string, config?: Record<string, unknown> | string): string {
    const dir = mkdtempSync(join(tmpdir(), 'engram-compressor-'));
    tmp.push(dir);
    const copy = join(dir, name);
    cpSync(FIXTURE, copy, { recursive: true });
    if (config !== undefined) writeFileSync(join(copy, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    return copy;
  }
  after(async () => {
    await model.release();
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('has the id name@version and the config dim', () => {
    assert.equal(model.id, `${CONFIG.name}@${CONFIG.version}`);
    assert.equal(model.dim, CONFIG.dim);
    assert.equal(model.info.dtype, 'fp32');
  });

  it('keeps exact source text on the right line numbers, and drops some', async () => {
    const c = chunk(CODE, 40);
    const [out] = await model.compress([c]);
    assert.ok(out);
    const lines = assertExactText(c, out.compressed);
    assert.ok(lines.length > 0, 'something is kept');
    assert.ok(!lines.includes(42), 'the blank line has nothing to keep');
    assert.ok(out.compressed.replace(/^\d+\| /gm, '').length < CODE.length, 'something is dropped');
    assert.equal(out.compressedTokens, countTokens(out.compressed));
  });

  it('keeps whole lines when the config says keep_unit "line": the lines where a token was kept, each whole', async () => {
    const byLine = await ModelCompressor.load(fixtureCopy('line', { ...CONFIG, keep_unit: 'line' }), { threads: 1 });
    try {
      const c = chunk(CODE, 40);
      const [tokens] = await model.compress([c]);
      const [lines] = await byLine.compress([c]);
      const src = CODE.split('\n');
      const numbers = (text: string): number[] => text.split('\n').map((l) => Number(/^(\d+)\|/.exec(l)![1]));
      const kept = numbers(lines!.compressed);
      // A token kept alone is some line's best; a line kept whole may also have had only a blank token pass.
      assert.ok(numbers(tokens!.compressed).every((n) => kept.includes(n)));
      assert.deepEqual(lines!.compressed.split('\n'), kept.map((n) => `${n}| ${src[n - 40]!.trim()}`));
      assert.ok(!kept.includes(42), 'a blank line is never kept');
    } finally {
      await byLine.release();
    }
  });

  it('keeps every unindented constant with a literal value when the config says force_keep "literals", whatever the model scores', async () => {
    // A threshold no token reaches: the model alone would keep only each block's best line.
    const forced = await ModelCompressor.load(fixtureCopy('forced', { ...CONFIG, keep_unit: 'line', keep_threshold: 1e9, force_keep: 'literals' }), { threads: 1 });
    try {
      const text = ['export const RETRY_BASE_MS = 250;', 'CACHE_TTL = 300', 'function f() {', '  const local = 5;', '  return local;', '}', "export const NAME = 'x'; // why"].join('\n');
      const [out] = await forced.compress([chunk(text, 10)]);
      assert.deepEqual(out!.compressed.split('\n'), ['10| export const RETRY_BASE_MS = 250;', '11| CACHE_TTL = 300', "16| export const NAME = 'x'; // why"]);
    } finally {
      await forced.release();
    }
  });

  it('takes the structural rules\' recall vectors when the config says recall_vector "hashing", and the model\'s text form', async () => {
    const hybrid = await ModelCompressor.load(fixtureCopy('hashing', { ...CONFIG, recall_vector: 'hashing' }), { threads: 1 });
    try {
      const rules = new StructuralCompressor({ dim: CONFIG.dim });
      const c = chunk(CODE, 40);
      const [[mine], [theirs], [own]] = await Promise.all([hybrid.compress([c]), rules.compress([c]), model.compress([c])]);
      assert.deepEqual([...mine!.vector], [...theirs!.vector]);
      assert.equal(mine!.compressed, own!.compressed);
      assert.deepEqual([...(await hybrid.embedQuery('retry delay'))], [...(await rules.embedQuery('retry delay'))]);
    } finally {
      await hybrid.release();
    }
  });

  it('reads a long chunk in several windows, with line numbers past the first window', async () => {
    const long = Array.from({ length: 150 }, (_, i) => `  const value${i} = compute(${i}, "item ${i}");`).join('\n');
    const c = chunk(long, 1000);
    const [out] = await model.compress([c]);
    const lines = assertExactText(c, out!.compressed);
    assert.ok(lines.some((n) => n > 1100), `kept lines reach the end of the chunk: ${lines.slice(-3).join(',')}`);
  });

  it('gives the same text and vector alone and in a batch, with unit-length vectors of the config dim', async () => {
    const a = chunk(CODE, 1);
    const b = chunk('def add(a, b):\n    return a + b\n', 7, 'src/b.py');
    const [alone] = await model.compress([a]);
    const both = await model.compress([b, a, chunk('', 1, 'src/empty.ts')]);
    assert.equal(both.length, 3);
    assert.equal(both[1]!.compressed, alone!.compressed);
    for (let i = 0; i < model.dim; i++) assert.ok(Math.abs(both[1]!.vector[i]! - alone!.vector[i]!) < 1e-4);
    for (const o of both) {
      assert.equal(o.vector.length, CONFIG.dim);
      assert.ok(Math.abs(norm(o.vector) - 1) < 1e-4);
    }
    assertExactText(b, both[0]!.compressed);
    // An index batch of many chunks (run a group at a time) gives each chunk's own result, in order.
    const many = Array.from({ length: 150 }, (_, i) => (i % 2 ? chunk(CODE, 1 + i) : chunk('def add(a, b):\n    return a + b\n', 1 + i, 'src/b.py')));
    const batch = await model.compress(many);
    assert.equal(batch.length, many.length);
    for (const i of [0, 63, 64, 65, 149]) assert.equal(batch[i]!.compressed, (await model.compress([many[i]!]))[0]!.compressed, `chunk ${i}`);
  });

  it('embeds questions into unit vectors of the same dim', async () => {
    const q1 = await model.embedQuery('where is the retry delay configured?');
    const q2 = await model.embedQuery('how are items stored?');
    assert.equal(q1.length, CONFIG.dim);
    assert.ok(Math.abs(norm(q1) - 1) < 1e-4 && Math.abs(norm(q2) - 1) < 1e-4);
    assert.notDeepEqual([...q1], [...q2]);
  });

  it('stops when the signal aborts, before or during the runs', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => chunk(`${CODE}\n// ${i}`, 1, `src/f${i}.ts`));
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(model.compress(chunks, aborted.signal), CancelledError);
    const one = await ModelCompressor.load(FIXTURE, { threads: 1, batchSize: 1 });
    try {
      const ac = new AbortController();
      const run = one.compress(chunks, ac.signal);
      setImmediate(() => ac.abort());
      await assert.rejects(run, CancelledError);
    } finally {
      await one.release();
    }
  });

  it('runs the int8 file when asked, as another compressor id', async () => {
    const q = await ModelCompressor.load(FIXTURE, { dtype: 'int8', threads: 1 });
    try {
      assert.equal(q.id, `${CONFIG.name}@${CONFIG.version}+int8`);
      assert.match(q.info.file, /model_quantized\.onnx$/);
      const [out] = await q.compress([chunk(CODE)]);
      assertExactText(chunk(CODE), out!.compressed);
    } finally {
      await q.release();
    }
  });

  it('rejects a wrong or corrupt folder with a clear UserError, and openCompressor falls back to structural', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-compressor-bad-'));
    tmp.push(dir);
    const wrongType = fixtureCopy('wrong-type', { ...CONFIG, model_type: 'engram-reader' });
    const broken = fixtureCopy('broken-onnx');
    writeFileSync(join(broken, 'onnx', 'model.onnx'), 'not an onnx graph');
    const { dim: _dim, ...rest } = CONFIG;
    const noDim = fixtureCopy('no-dim', rest);
    const badUnit = fixtureCopy('bad-unit', { ...CONFIG, keep_unit: 'word' });
    const badRecall = fixtureCopy('bad-recall', { ...CONFIG, recall_vector: 'bm25' });
    const badForce = fixtureCopy('bad-force', { ...CONFIG, force_keep: 'all' });
    const badJson = fixtureCopy('bad-json', '{"model_type": "engram-comp');

    const cases: Array<[string, RegExp]> = [
      [wrongType, /model_type is "engram-reader", expected "engram-compressor"/],
      [broken, /model\.onnx/],
      [noDim, /"dim" must be a number/],
      [badUnit, /"keep_unit" must be "token" or "line", got "word"/],
      [badRecall, /"recall_vector" must be "model" or "hashing", got "bm25"/],
      [badForce, /"force_keep" must be "none" or "literals", got "all"/],
      [badJson, /invalid JSON/],
      [join(dir, 'missing'), /model folder not found/],
    ];
    for (const [folder, message] of cases) {
      await assert.rejects(ModelCompressor.load(folder), (err: Error) => err instanceof UserError && message.test(err.message), folder);
      const warnings: string[] = [];
      const c = await openCompressor(folder, { onWarning: (m) => warnings.push(m) });
      assert.ok(c instanceof StructuralCompressor, folder);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /using the structural compressor/);
    }
    const none: string[] = [];
    assert.ok((await openCompressor('structural', { onWarning: (m) => none.push(m) })) instanceof StructuralCompressor);
    assert.deepEqual(none, []);
  });

  it('opens the installed compressor model by default; the rules when there is none or it is broken', async () => {
    const shipped = await openCompressor(undefined);
    const empty = await openCompressor('');
    try {
      assert.ok(shipped instanceof ModelCompressor && empty instanceof ModelCompressor);
      assert.match(shipped.id, /^engram-compressor@/);
    } finally {
      await Promise.all([(shipped as ModelCompressor).release(), (empty as ModelCompressor).release()]);
    }
    const nowhere = join(FIXTURE, 'none');
    const warnings: string[] = [];
    const bare = await openCompressor(undefined, { registry: { shippedDir: nowhere, cacheDir: nowhere, userDirs: [] }, onWarning: (m) => warnings.push(m) });
    assert.ok(bare instanceof StructuralCompressor, 'no compressor model installed');
    assert.equal(warnings.length, 0, 'no model is not a problem');

    // A shipped compressor whose file is gone: a warning, and the rules index on.
    const models = mkdtempSync(join(tmpdir(), 'engram-shipped-'));
    tmp.push(models);
    cpSync(FIXTURE, join(models, 'tiny'), { recursive: true });
    const files = [{ path: 'onnx/gone.onnx', sha256: '0'.repeat(64) }];
    writeFileSync(join(models, 'manifest.json'), JSON.stringify({ models: [{ name: 'tiny-compressor', role: 'compressor', version: '0.0.1', path: 'tiny', files }] }));
    const broken = await openCompressor(undefined, { registry: { shippedDir: models, cacheDir: nowhere, userDirs: [] }, onWarning: (m) => warnings.push(m) });
    assert.ok(broken instanceof StructuralCompressor);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /compressor "tiny-compressor" is not usable \(missing onnx\/gone\.onnx\); using the structural compressor/);
  });

  it('ships engram-compressor: whole lines, at least one a block, constants with their values, the rules\' recall vectors', async () => {
    const c = await openCompressor('engram-compressor');
    assert.ok(c instanceof ModelCompressor, c.id);
    try {
      assert.match(c.id, /^engram-compressor@\d+\.\d+\.\d+$/);
      const src = CODE.split('\n');
      const small = chunk('let total = 0;\ntotal += 1;', 7);
      const [out, tiny] = await c.compress([chunk(CODE, 1), small]);
      for (const line of out!.compressed.split('\n')) {
        const m = /^(\d+)\| (.*)$/.exec(line)!;
        assert.equal(m[2], src[Number(m[1]) - 1]!.trim());
      }
      assert.match(tiny!.compressed, /^(7\| let total = 0;|8\| total \+= 1;)$/, 'a block keeps at least one line');
      assert.match(out!.compressed, /^2\| export const RETRY_BASE_MS = 250;$/m, 'a constant with its value');
      const [rules] = await new StructuralCompressor({ dim: c.dim }).compress([chunk(CODE, 1)]);
      assert.deepEqual([...out!.vector], [...rules!.vector]);
    } finally {
      await c.release();
    }
  });

  it('is listed as a compressor, not a reasoner, from a model folder outside the manifest, and found by its name', async () => {
    const found = listModels({ shippedDir: join(FIXTURE, 'none'), cacheDir: join(FIXTURE, 'none'), userDirs: [FIXTURE] });
    assert.deepEqual(found.map((m) => [m.name, m.role]), [['tiny-compressor', 'compressor']]);
    const c = await openCompressor('tiny-compressor', { registry: { userDirs: [FIXTURE] } });
    assert.ok(c instanceof ModelCompressor);
    await c.release();
  });
});

describe('engram index --compressor DIR', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'engram-compressor-e2e-'));
    writeFiles(join(dir, 'repo'), sampleFiles());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('indexes with the model, searches with it, and recompresses blocks of another compressor', async () => {
    const repo = join(dir, 'repo');
    const store = join(dir, 'store');
    // first with the structural compressor
    let io = cliIO(dir);
    assert.equal(await main(['index', '--repo', repo, '--store', store, '--json', '--compressor', 'structural'], io), 0, io.err());
    // The default (the shipped compressor) ranks by the rules' vectors: recall does not suffer meanwhile.
    io = cliIO(dir);
    assert.equal(await main(['search', '--repo', repo, '--store', store, '--json', 'RETRY_BASE_MS'], io), 0, io.err());
    assert.match(io.err(), /were made by structural@2; this engine runs engram-compressor@[\d.]+ .*recall is the same meanwhile/);
    assert.ok((JSON.parse(io.out()) as { results: unknown[] }).results.length > 0);
    // And back: blocks made by the default, searched with the rules (the store records whose vectors it holds).
    const byDefault = join(dir, 'store-default');
    io = cliIO(dir);
    assert.equal(await main(['index', '--repo', repo, '--store', byDefault, '--json'], io), 0, io.err());
    io = cliIO(dir);
    assert.equal(await main(['search', '--repo', repo, '--store', byDefault, '--json', '--compressor', 'structural', 'RETRY_BASE_MS'], io), 0, io.err());
    assert.match(io.err(), /were made by engram-compressor@[\d.]+; this engine runs structural@2 .*recall is the same meanwhile/);

    io = cliIO(dir);
    assert.equal(await main(['index', '--repo', repo, '--store', store, '--json', '--compressor', FIXTURE], io), 0, io.err());
    assert.doesNotMatch(io.err(), /not usable/);
    assert.match(io.err(), /warning: the blocks in .* were made by structural@2; this engine runs tiny-compressor@0\.0\.1 .*until then recall is weaker/);

    io = cliIO(dir);
    assert.equal(await main(['search', '--repo', repo, '--store', store, '--json', '--compressor', FIXTURE, 'RETRY_BASE_MS backoff'], io), 0, io.err());
    const hits = (JSON.parse(io.out()) as { results: Array<{ blockId: string; path: string }> }).results;
    assert.ok(hits.length > 0, 'search finds blocks');

    const engine = await Engine.open({ repo, store, compressor: FIXTURE });
    try {
      assert.equal(engine.compressorId, `${CONFIG.name}@${CONFIG.version}`);
      const block = await engine.inspect(hits[0]!.blockId);
      assert.equal(block.model, engine.compressorId, 'blocks were recompressed by the model');
      assert.equal(block.vectorDim, CONFIG.dim);
      const status = await engine.status();
      assert.ok(status.blocks > 0);
    } finally {
      await engine.close();
    }
  });

  it('falls back to structural with a warning when the model folder is broken, and indexes everything', async () => {
    const repo = join(dir, 'repo');
    const store = join(dir, 'store-fallback');
    const broken = join(dir, 'broken');
    cpSync(FIXTURE, broken, { recursive: true });
    writeFileSync(join(broken, 'onnx', 'model.onnx'), '');
    const io = cliIO(dir);
    // a relative folder resolves against the command's cwd
    assert.equal(await main(['index', '--repo', repo, '--store', store, '--json', '--compressor', 'broken'], io), 0, io.err());
    assert.match(io.err(), /warning: compressor ".*broken" is not usable .*using the structural compressor/);
    const engine = await Engine.open({ repo, store, compressor: 'structural' });
    try {
      const hits = await engine.search('RETRY_BASE_MS', 3);
      assert.ok(hits.length > 0);
      assert.equal((await engine.inspect(hits[0]!.blockId)).model, new StructuralCompressor().id);
    } finally {
      await engine.close();
    }
  });
});

it('the editor setting engram.index.compressor reaches the engine command line', () => {
  const paths = { execPath: '/usr/bin/code', cli: '/ext/bin/engram.js', repo: '/ws', defaultStore: '/st', feedbackFile: '/g/f.jsonl' };
  const plain = serverLaunch(readSettings(() => undefined), paths, {});
  assert.ok(!plain.args.includes('--compressor'), 'the engine\'s default (the installed compressor model)');
  const set = serverLaunch(readSettings((k) => (k === 'index.compressor' ? ' /m/engram-compressor-0.1.0 ' : undefined)), paths, {});
  assert.equal(set.args[set.args.indexOf('--compressor') + 1], '/m/engram-compressor-0.1.0');
});
