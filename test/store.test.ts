import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { MemoryStore, defaultStoreDir, termsOf, type FileWrite } from '../src/core/store/index.js';
import { StructuralCompressor } from '../src/core/compress/index.js';
import { sha256Hex, stableId } from '../src/core/hash.js';
import { countTokens } from '../src/core/tokens.js';
import { UserError, type Chunk } from '../src/core/types.js';

const DIM = 64;
const compressor = new StructuralCompressor({ dim: DIM });

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A file cut into chunks of `per` lines (each defining `symbols`), compressed by the real compressor. */
async function fileWrite(path: string, text: string, per = 4, symbols: string[] = []): Promise<FileWrite> {
  const lines = text.split('\n');
  const chunks: Chunk[] = [];
  for (let i = 0; i < lines.length; i += per) {
    const body = lines.slice(i, i + per).join('\n');
    const hash = sha256Hex(body);
    chunks.push({ id: stableId(path, i + 1, hash), path, startLine: i + 1, endLine: Math.min(i + per, lines.length), lang: 'ts', symbols, text: body, tokens: countTokens(body), hash });
  }
  const out = await compressor.compress(chunks);
  const fileHash = sha256Hex(text);
  const blocks = chunks.map((c, i) => ({
    id: c.id, path, startLine: c.startLine, endLine: c.endLine, lang: c.lang, symbols: c.symbols, hash: c.hash, tokens: c.tokens,
    model: compressor.id, fileHash, ...out[i]!, terms: termsOf(c.text, [], c.symbols),
  }));
  return {
    record: { path, size: text.length, mtimeMs: 1, hash: fileHash, skip: null, blocks: blocks.length, tokens: chunks.reduce((a, c) => a + c.tokens, 0) },
    blocks,
  };
}

const RETRY = [
  'export const RETRY_BASE_MS = 250;',
  'export function retryDelay(attempt: number): number {',
  '  return RETRY_BASE_MS * 2 ** attempt;',
  '}',
  'export class HttpClient {',
  '  async get(url: string) { return fetch(url); }',
  '}',
].join('\n');
const PARSER = ['export function parseConfig(text: string) {', '  return JSON.parse(text);', '}', 'const héllo = "naïve café";'].join('\n');

/** Checks every record owns exactly its blocks and no block lacks a record. */
async function assertConsistent(store: MemoryStore): Promise<void> {
  const files = await store.files();
  let total = 0;
  for (const rec of files.values()) {
    const blocks = await store.blocksForPath(rec.path);
    assert.equal(blocks.length, rec.blocks, `blocks of ${rec.path}`);
    for (const b of blocks) assert.equal(b.fileHash, rec.hash);
    total += blocks.length;
  }
  assert.equal((await store.stats()).blocks, total, 'no blocks without a record');
}

test('round trip: records, blocks, order, reuse by hash, stats, meta', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  const a = await fileWrite('src/retry.ts', RETRY, 3);
  const b = await fileWrite('src/parse.ts', PARSER, 2);
  await store.writeFiles([a, b, { record: { path: 'big.bin', size: 9, mtimeMs: 1, hash: '', skip: 'binary', blocks: 0, tokens: 0 }, blocks: [] }]);

  const files = await store.files();
  assert.equal(files.size, 3);
  assert.deepEqual(files.get('src/retry.ts'), a.record);
  assert.equal(files.get('big.bin')?.skip, 'binary');

  const first = a.blocks[0]!;
  const got = await store.getBlock(first.id);
  assert.ok(got);
  assert.equal(got.compressed, first.compressed);
  assert.equal(got.fileHash, a.record.hash);
  assert.equal(got.model, 'structural@2');
  for (let i = 0; i < DIM; i++) assert.ok(Math.abs(got.vector[i]! - first.vector[i]!) < 1e-3, 'float16 vector close');
  assert.equal(await store.getBlock('nope'), null);
  // Many ids at once (more than one IN list), the missing ones left out.
  const ids = [...a.blocks, ...b.blocks].map((x) => x.id);
  const many = await store.getBlocks([...ids, ...Array.from({ length: 500 }, (_, i) => `missing-${i}`), ids[0]!]);
  assert.deepEqual([...many.keys()].sort(), [...ids].sort());
  assert.equal(many.get(first.id)?.compressed, first.compressed);

  assert.deepEqual((await store.blocksForPath('src/retry.ts')).map((x) => x.startLine), [1, 4, 7]);
  const all: string[] = [];
  for await (const blk of store.allBlocks()) all.push(`${blk.path}:${blk.startLine}`);
  assert.deepEqual(all, ['src/parse.ts:1', 'src/parse.ts:3', 'src/retry.ts:1', 'src/retry.ts:4', 'src/retry.ts:7']);

  const reuse = await store.compressedByHash([first.hash, 'f'.repeat(64)], 'structural@2');
  assert.equal(reuse.size, 1);
  assert.equal(reuse.get(first.hash)?.compressed, first.compressed);
  assert.equal((await store.compressedByHash([first.hash], 'other@1')).size, 0);
  assert.equal((await store.blocksNeedingModel('structural@2', 10)).length, 0);
  assert.equal((await store.blocksNeedingModel('structural@3', 2)).length, 2);

  const stats = await store.stats();
  assert.equal(stats.files, 2);
  assert.equal(stats.blocks, 5);
  assert.equal(stats.tokens, a.record.tokens + b.record.tokens);
  assert.deepEqual(stats.skipped, { binary: 1 });
  assert.equal(stats.compressor, 'structural@2');
  assert.ok(stats.storeBytes > 0);
  assert.ok(stats.updatedAt !== null && !Number.isNaN(Date.parse(stats.updatedAt)));

  assert.equal(await store.getMeta('k'), null);
  await store.setMeta('k', 'v1');
  await store.setMeta('k', "v2 'quoted'");
  assert.equal(await store.getMeta('k'), "v2 'quoted'");
  await store.close();

  const again = await MemoryStore.open(dir, { dim: DIM });
  assert.equal((await again.stats()).blocks, 5);
  await again.close();
});

test('replacing and deleting files leaves no stale blocks; optimize keeps data', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([await fileWrite('a.ts', RETRY, 2), await fileWrite('b.ts', PARSER, 2)]);
  const changed = await fileWrite('a.ts', RETRY + '\nexport const EXTRA = 1;', 5);
  await store.writeFiles([changed]);
  assert.deepEqual((await store.blocksForPath('a.ts')).map((x) => x.startLine), [1, 6]);
  // rewriting identical content (same ids and file hash) must not duplicate blocks
  await store.writeFiles([changed]);
  assert.equal((await store.blocksForPath('a.ts')).length, 2);
  assert.equal(await store.recover(), 0);
  await assertConsistent(store);

  await store.deleteFiles(['b.ts', 'missing.ts']);
  assert.equal((await store.blocksForPath('b.ts')).length, 0);
  assert.equal((await store.files()).has('b.ts'), false);
  await store.optimize();
  assert.equal((await store.stats()).blocks, 2);
  await assertConsistent(store);
  await store.close();
});

test('recover removes blocks left by an interrupted write', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([await fileWrite('a.ts', RETRY, 3)]);
  await store.close();

  // the state a crash between "add blocks" and "upsert records" leaves: blocks no record owns
  const db = await lancedb.connect(dir);
  const blocks = await db.openTable('blocks');
  const orphan = await fileWrite('a.ts', PARSER, 2);
  const unknown = await fileWrite('never-recorded.ts', PARSER, 4);
  await blocks.add(
    [...orphan.blocks, ...unknown.blocks].map((b) => ({
      ...b, symbols: '', fileHash: b.fileHash, wid: 'crashed', terms: b.terms ?? '', vector: Array.from(b.vector, (x) => (Math.abs(x) < 1e-4 ? 0 : x)),
    })),
  );
  blocks.close();
  db.close();

  const reopened = await MemoryStore.open(dir, { dim: DIM });
  assert.equal(await reopened.recover(), orphan.blocks.length + unknown.blocks.length);
  assert.equal(await reopened.recover(), 0);
  await assertConsistent(reopened);
  assert.equal((await reopened.blocksForPath('a.ts')).length, 3);
  await reopened.close();
});

test('a store killed with SIGKILL mid-write opens, recovers and is consistent', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'store');
  const child = join(root, 'writer.mts');
  const src = (p: string): string => JSON.stringify(resolve('src/core', p));
  writeFileSync(
    child,
    `import { MemoryStore } from ${src('store/index.ts')};
import { StructuralCompressor } from ${src('compress/index.ts')};
import { sha256Hex } from ${src('hash.ts')};
const c = new StructuralCompressor({ dim: ${DIM} });
const store = await MemoryStore.open(process.argv[2], { dim: ${DIM} });
await store.recover();
for (let round = 0; ; round++) {
  const batch = [];
  for (let f = 0; f < 20; f++) {
    const path = 'f' + f + '.ts';
    const n = 1 + ((round + f) % 4);
    const text = Array.from({ length: n * 3 }, (_, i) => 'export const V' + i + '_' + round + ' = ' + i + ';').join('\\n');
    const fileHash = sha256Hex(text);
    const blocks = [];
    for (let k = 0; k < n; k++) {
      const body = text.split('\\n').slice(k * 3, k * 3 + 3).join('\\n');
      const [out] = await c.compress([{ id: 'x', path, startLine: k * 3 + 1, endLine: k * 3 + 3, lang: 'ts', symbols: [], text: body, tokens: 15, hash: sha256Hex(body) }]);
      blocks.push({ id: path + ':' + k, path, startLine: k * 3 + 1, endLine: k * 3 + 3, lang: 'ts', symbols: [], hash: sha256Hex(body), tokens: 15, model: c.id, fileHash, ...out });
    }
    batch.push({ record: { path, size: text.length, mtimeMs: round, hash: fileHash, skip: null, blocks: n, tokens: 15 * n }, blocks });
  }
  await store.writeFiles(batch);
  if (round % 7 === 6) await store.deleteFiles(['f3.ts', 'f4.ts']);
  if (round % 9 === 8) await store.optimize();
  if (round === 1) process.stdout.write('ready\\n');
}
`,
  );
  for (let run = 0; run < 3; run++) {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dir], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      proc.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) setTimeout(() => proc.kill('SIGKILL'), 150 + run * 400);
      });
      proc.on('exit', (_code, signal) => (signal === 'SIGKILL' ? res() : rej(new Error(`writer exited without being killed (${signal})`))));
    });
    assert.ok(existsSync(`${dir}.lock`), 'the killed writer left its lock');
    const store = await MemoryStore.open(dir, { dim: DIM }); // stale lock taken over
    await store.recover();
    await assertConsistent(store);
    assert.ok((await store.files()).size >= 18);
    await store.close();
  }
});

test('an unusable or outdated store is moved aside and a fresh one created', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([await fileWrite('a.ts', RETRY)]);
  await store.setMeta('schemaVersion', '0');
  await store.close();

  const warnings: string[] = [];
  const fresh = await MemoryStore.open(dir, { dim: DIM, onWarning: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /another Engram version.*schema version 0.*safe to delete/);
  assert.equal((await fresh.stats()).blocks, 0);
  await fresh.writeFiles([await fileWrite('a.ts', RETRY)]);
  await fresh.close();
  assert.equal(readdirSync(root).filter((n) => n.startsWith('store.old-')).length, 1);

  // damage the manifests of the blocks table
  const versions = join(dir, 'blocks.lance', '_versions');
  for (const f of readdirSync(versions)) writeFileSync(join(versions, f), 'garbage');
  const again = await MemoryStore.open(dir, { dim: DIM, onWarning: (m) => warnings.push(m) });
  assert.equal(warnings.length, 2);
  assert.match(warnings[1]!, /could not be used/);
  assert.equal((await again.stats()).blocks, 0);
  await again.close();
  assert.equal(readdirSync(root).filter((n) => n.startsWith('store.corrupt-')).length, 1);

  // a different vector dimension is another compressor's store
  const other = await MemoryStore.open(dir, { dim: 32, onWarning: (m) => warnings.push(m) });
  assert.match(warnings[2]!, /dimension/);
  await other.close();
  assert.equal(readdirSync(root).filter((n) => n.startsWith('store.old-')).length, 2);
});

test('lexical search ranks the exact compound name first, and its definition above its uses', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([
    await fileWrite('a.ts', 'export const RBDT_RESOLVE_FILE = 3;\nexport const RBDT_FILE_DEPENDENCIES = 9;', 4, ['RBDT_RESOLVE_FILE', 'RBDT_FILE_DEPENDENCIES']),
    await fileWrite('b.ts', "export function kind(type: number) {\n  return type === RBDT_FILE ? 'file' : 'other';\n}", 4, ['kind']),
    await fileWrite('c.ts', 'export const RBDT_FILE = 7;', 4, ['RBDT_FILE']),
  ]);
  await store.optimize(); // as after every index run
  const hits = await store.searchLexical('What is the value of the constant `RBDT_FILE`?', 3);
  assert.deepEqual(hits.map((h) => h.path), ['c.ts', 'b.ts', 'a.ts']);
  await store.close();
});

test('a name that is a stop word is found where it is defined, searched for alone', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([
    await fileWrite('util/not.ts', 'export function not(pred) {\n  return (v) => !pred(v);\n}', 4, ['not']),
    await fileWrite('ops/partition.ts', 'export function partition(pred) {\n  return [filter(pred), filter(not(pred))];\n}', 4, ['partition']),
    await fileWrite('docs.ts', '// this is not the place\nexport const NOTE = 1;', 4, ['NOTE']),
  ]);
  await store.optimize();
  assert.deepEqual((await store.searchLexical('not', 3)).map((h) => h.path), ['util/not.ts']);
  // In a sentence a stop word is no search term.
  assert.deepEqual(await store.searchLexical('is it not so', 3), []);
  await store.close();
});

test('a name with digits is found whole, not by its letters alone', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([
    await fileWrite('tests/a.py', 'def main():\n    test01 = "(a b)"\n    test02 = "(c)"\n    test51 = "(2:XX abc)"', 4, ['main']),
    await fileWrite('tests/b.py', 'def test_parse():\n    test = parse("x")\n    assert test', 4, ['test_parse']),
    await fileWrite('tests/c.py', 'def test_dump():\n    test = dump(1)\n    assert test', 4, ['test_dump']),
    await fileWrite('hash.ts', 'export function digest(s) {\n  return sha256(s) + sha1(s);\n}', 4, ['digest']),
  ]);
  await store.optimize();
  assert.equal((await store.searchLexical('What is the value of the constant `test51`?', 3))[0]?.path, 'tests/a.py');
  assert.equal((await store.searchLexical('sha256', 3))[0]?.path, 'hash.ts');
  await store.close();
});

test('a name search puts the blocks that define the name before the many that import it', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  const body = Array.from({ length: 40 }, (_, i) => `  const step${i} = convert(input, ${i}, options.mode${i});`).join('\n');
  const users = await Promise.all(
    Array.from({ length: 24 }, (_, i) => fileWrite(`ops/op${i}.ts`, `import { innerFrom } from '../observable/innerFrom';`, 4, [])),
  );
  await store.writeFiles([
    ...users,
    await fileWrite('observable/innerFrom.ts', `export function innerFrom(input) {\n${body}\n  return fromInput(input);\n}`, 4, ['innerFrom']),
  ]);
  await store.optimize();
  const byName = await store.searchName('innerFrom', 16);
  assert.equal(byName[0]?.path, 'observable/innerFrom.ts');
  // BM25 alone ranks the short import lines first, which is why names are searched this way.
  assert.notEqual((await store.searchLexical('innerFrom', 16))[0]?.path, 'observable/innerFrom.ts');
  await store.close();
});

test('lexical search finds identifiers and survives hostile queries', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([await fileWrite('src/retry.ts', RETRY, 4), await fileWrite('src/parse.ts', PARSER, 4)]);
  const hits = await store.searchLexical('where is the retry delay?', 5);
  assert.equal(hits[0]?.path, 'src/retry.ts');
  assert.equal(hits[0]?.startLine, 1);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
  assert.equal((await store.searchLexical('café', 5))[0]?.path, 'src/parse.ts');
  for (const q of ['', '   ', '"', "'; DROP TABLE blocks; --", 'a AND OR (NOT', '+-*/:^~"', '日本語 のテスト', 'x'.repeat(5000), '\u0000\uFFFF', 'retry*']) {
    const r = await store.searchLexical(q, 5);
    assert.ok(Array.isArray(r), q);
  }
  // rows written after the index was built are found, before and after optimize
  await store.optimize();
  await store.writeFiles([await fileWrite('src/backoff.ts', 'export const jitterFactor = 0.2;')]);
  assert.equal((await store.searchLexical('jitter', 5))[0]?.path, 'src/backoff.ts');
  await store.optimize();
  assert.equal((await store.searchLexical('jitterFactor', 5))[0]?.path, 'src/backoff.ts');
  await store.close();
});

test('vector search ranks by cosine similarity', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await store.writeFiles([await fileWrite('src/retry.ts', RETRY, 4), await fileWrite('src/parse.ts', PARSER, 4)]);
  const target = (await store.blocksForPath('src/parse.ts'))[0]!;
  const hits = await store.searchVector(target.vector, 10);
  assert.equal(hits.length, 3);
  assert.equal(hits[0]?.blockId, target.id);
  assert.ok(Math.abs(hits[0]!.score - 1) < 1e-2);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
  const q = await compressor.embedQuery('how is the retry delay computed');
  assert.equal((await store.searchVector(q, 1))[0]?.path, 'src/retry.ts');
  await assert.rejects(store.searchVector(new Float32Array(3), 1), /dimensions/);
  await store.close();
});

test('one writer at a time; readers are fine; stale locks are taken over', async (t) => {
  const dir = join(tempDir(t), 'store');
  const store = await MemoryStore.open(dir, { dim: DIM });
  await assert.rejects(MemoryStore.open(dir, { dim: DIM }), (e: unknown) => e instanceof UserError && /in use by process/.test(e.message));
  await store.writeFiles([await fileWrite('a.ts', RETRY)]);
  const reader = await MemoryStore.open(dir, { dim: DIM, readOnly: true });
  assert.equal((await reader.files()).size, 1);
  await assert.rejects(reader.setMeta('x', 'y'), /read-only/);
  await store.writeFiles([await fileWrite('b.ts', PARSER)]);
  assert.equal((await reader.files()).size, 2, 'reader sees new commits');
  await reader.close();
  await store.close();

  writeFileSync(`${dir}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname(), since: 'x' }));
  const taken = await MemoryStore.open(dir, { dim: DIM });
  await taken.close();
  assert.equal(existsSync(`${dir}.lock`), false);
  await assert.rejects(MemoryStore.open(join(dir, 'nothing-here'), { dim: DIM, readOnly: true }), UserError);
});

test('defaultStoreDir honours ENGRAM_STORE_DIR and XDG_CACHE_HOME', (t) => {
  const repo = tempDir(t);
  assert.equal(defaultStoreDir(repo, { ENGRAM_STORE_DIR: '/x/y' }), '/x/y');
  const d = defaultStoreDir(repo, { XDG_CACHE_HOME: '/cache' });
  assert.equal(d, join('/cache', 'engram', sha256Hex(realpathSync(repo)).slice(0, 16)));
  assert.match(defaultStoreDir(repo, {}), /\.cache[/\\]engram[/\\][0-9a-f]{16}$/);
});

test('lexical search ranks rows written since the last optimize, not table order', async (t) => {
  const store = await MemoryStore.open(tempDir(t), { dim: DIM });
  t.after(() => store.close());
  // Thirty long blocks that mention the word once among many others, written first,
  // then one short block about it: the short one is the best BM25 match.
  const filler = Array.from({ length: 60 }, (_, i) => `const filler${String.fromCharCode(97 + (i % 26))}${i} = zebra${i};`).join('\n');
  const writes: FileWrite[] = [];
  for (let i = 0; i < 30; i++) writes.push(await fileWrite(`noise/n${i}.ts`, `// quokka appears here once\n${filler}`, 100));
  writes.push(await fileWrite('best.ts', 'export function quokka() { return quokka; }', 100));
  await store.writeFiles(writes);
  const hits = await store.searchLexical('quokka', 3);
  assert.equal(hits.length, 3);
  assert.equal(hits[0]?.path, 'best.ts');
  assert.ok(hits.every((h, i) => i === 0 || hits[i - 1]!.score >= h.score), 'sorted by score');
});

test('reads running while optimize() compacts and removes old versions still answer', async (t) => {
  // optimize() deletes the data files of every older version; a query in flight on one of
  // them must read the latest version instead of failing (the watcher's index runs end in
  // optimize() while the editor searches and asks).
  const store = await MemoryStore.open(tempDir(t), { dim: DIM });
  t.after(() => store.close());
  const query = await compressor.embedQuery('retry delay');
  const failures: string[] = [];
  let reads = 0;
  for (let round = 0; round < 24; round++) {
    for (let i = 0; i < 6; i++) await store.writeFiles([await fileWrite(`r${round}/f${i}.ts`, RETRY)]);
    let optimizing = true;
    const readers = Array.from({ length: 8 }, async () => {
      while (optimizing) {
        reads++;
        try {
          await store.searchLexical('retry delay', 5);
          await store.searchVector(query, 5);
          await store.stats();
        } catch (err) {
          failures.push(String(err).slice(0, 300));
        }
      }
    });
    await store.optimize();
    optimizing = false;
    await Promise.all(readers);
  }
  assert.ok(reads > 12, `reads ran during the optimizations (${reads})`);
  assert.deepEqual(failures, []);
  assert.equal((await store.stats()).files, 144);
});
