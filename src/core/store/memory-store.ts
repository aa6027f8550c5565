// The persistent memory store: LanceDB tables `blocks`, `files` and `meta`.
//
// Crash safety. Every LanceDB operation commits atomically (a new manifest version),
// so a SIGKILL leaves each table at some committed version. writeFiles orders its
// three operations so that every intermediate state is repairable by recover():
//   1. add the new blocks, tagged with a fresh write id (`wid`);
//   2. upsert the file records carrying that wid: the record says "this file is done";
//   3. delete the files' older blocks (same paths, other wid).
// A crash after 1 leaves new blocks no record points at; after 2, old blocks no record
// points at. recover() deletes every block whose (path, fileHash, wid) does not match
// its file record, which restores "each record's blocks are exactly its last write".
// deleteFiles removes records first and blocks second for the same reason.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import type { Compressed, FileRecord, MemoryBlock, SearchHit, SkipReason } from '../types.js';
import { definesSymbol, UserError } from '../types.js';
import { isUri } from './location.js';
import { StoreLock } from './lock.js';
import { BLOCKS, DATA_STORAGE_VERSION, FILES, META, SCHEMA_VERSION, blocksSchema, filesSchema, metaSchema, pieces, sqlEq, sqlIn, sqlString } from './schema.js';
import { nameTerms, queryTerms, termsOf } from './terms.js';

export interface StoreStats {
  files: number;
  blocks: number;
  tokens: number;
  skipped: Record<string, number>;
  storeBytes: number;
  /** Bytes of the files that became blocks (what store size is measured against). */
  sourceBytes: number;
  compressor: string | null;
  updatedAt: string | null;
}

export interface OpenOptions {
  /** Vector dimension of the compressor that writes blocks. */
  dim: number;
  onWarning?: (message: string) => void;
  /** Open without the writer lock; writes then throw. The store must exist. */
  readOnly?: boolean;
}

/**
 * What writeFiles accepts for a block: a MemoryBlock plus, optionally, its lexical
 * search terms (`termsOf(chunk.text, pathSegments, chunk.symbols)`). Without `terms`, terms are
 * derived from the compressed text, symbols and path (weaker: bodies were dropped).
 */
export type BlockInput = MemoryBlock & { terms?: string };

export interface FileWrite {
  record: FileRecord;
  blocks: BlockInput[];
}

const IN_LIST = 400; // values per IN (...) filter
const LEXICAL_OVERFETCH = 10; // rows fetched per wanted hit (see searchLexical)
const PAGE_PATHS = 200; // paths per page of allBlocks()
const META_SCHEMA = 'schemaVersion';
const META_DIM = 'dim';
const META_UPDATED = 'updatedAt';
export const META_COMPRESSOR = 'compressor';
/** Whose recall vectors the blocks hold (Compressor.recallVectors of the compressor that made them). */
export const META_RECALL_VECTORS = 'recallVectors';

type Row = Record<string, unknown>;

const READ_ATTEMPTS = 4;
/** LanceDB's error for a data or index file that is gone (`Not found: …`, `Object at location … not found`). */
const VANISHED_FILE = /lance error:[\s\S]*not found/i;

function str(row: Row, key: string): string {
  const v = row[key];
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

function num(row: Row, key: string): number {
  const v = row[key];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number(v ?? 0);
}

function vectorOf(row: Row): Float32Array {
  const v = row['vector'] as Iterable<number> | null | undefined;
  return v ? Float32Array.from(v) : new Float32Array(0);
}

function blockOf(row: Row): MemoryBlock {
  const symbols = str(row, 'symbols');
  return {
    id: str(row, 'id'),
    path: str(row, 'path'),
    startLine: num(row, 'startLine'),
    endLine: num(row, 'endLine'),
    lang: str(row, 'lang'),
    symbols: symbols === '' ? [] : symbols.split('\n'),
    hash: str(row, 'hash'),
    fileHash: str(row, 'fileHash'),
    model: str(row, 'model'),
    tokens: num(row, 'tokens'),
    compressedTokens: num(row, 'compressedTokens'),
    compressed: str(row, 'compressed'),
    vector: vectorOf(row),
  };
}

function hitOf(r: Row, score: number): SearchHit {
  return { blockId: str(r, 'id'), path: str(r, 'path'), startLine: num(r, 'startLine'), endLine: num(r, 'endLine'), score };
}

function recordOf(row: Row): FileRecord {
  const skip = row['skip'];
  return {
    path: str(row, 'path'),
    size: num(row, 'size'),
    mtimeMs: num(row, 'mtimeMs'),
    hash: str(row, 'hash'),
    skip: typeof skip === 'string' && skip !== '' ? (skip as SkipReason) : null,
    blocks: num(row, 'blocks'),
    tokens: num(row, 'tokens'),
  };
}

/**
 * Values below float16's smallest normal (6.1e-5) are flushed to zero: apache-arrow's
 * float16 conversion turns some subnormals into NaN, which LanceDB then rejects.
 */
function toHalfSafe(v: Float32Array): number[] {
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i] ?? 0;
    out[i] = Number.isFinite(x) && Math.abs(x) >= 6.2e-5 ? x : 0;
  }
  return out;
}

function byPathLine(a: Pick<MemoryBlock, 'path' | 'startLine' | 'endLine'>, b: Pick<MemoryBlock, 'path' | 'startLine' | 'endLine'>): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : a.startLine - b.startLine || a.endLine - b.endLine;
}

function dirBytes(path: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(path, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) {
      try {
        total += statSync(p).size;
      } catch {
        // removed meanwhile (cleanup)
      }
    }
  }
  return total;
}

interface Tables {
  db: lancedb.Connection;
  blocks: lancedb.Table;
  files: lancedb.Table;
  meta: lancedb.Table;
}

export class MemoryStore {
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly dim: number,
    readonly readOnly: boolean,
    private readonly t: Tables,
    private readonly lock: StoreLock | null,
  ) {}

  /**
   * Opens or creates the store in `dir` (a local folder or a LanceDB URI such as
   * s3://…). A store with another schema version or vector dimension, or one that
   * fails to open, is moved aside to `${dir}.old-<timestamp>` (another version or
   * dimension) or `${dir}.corrupt-<timestamp>` (damage) and a fresh one is
   * created, with a warning. Writers hold `${dir}.lock`; a second writer gets a UserError.
   */
  static async open(dir: string, options: OpenOptions): Promise<MemoryStore> {
    const { dim, readOnly = false } = options;
    const warn = options.onWarning ?? ((): void => undefined);
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
    const local = !isUri(dir);
    let lock: StoreLock | null = null;
    if (local && !readOnly) {
      mkdirSync(dirname(dir), { recursive: true });
      lock = StoreLock.acquire(`${dir}.lock`, dir);
    }
    try {
      if (readOnly) {
        if (local && !existsSync(dir)) throw new UserError(`no store at ${dir}; run \`engram index\` first`);
        const tables = await openExisting(dir, dim, true);
        if (typeof tables === 'string') throw new UserError(`cannot read the store ${dir}: ${tables}`);
        return new MemoryStore(dir, dim, true, tables, null);
      }
      let problem: string | null = null;
      if (!local || existsSync(dir)) {
        const tables = await openExisting(dir, dim, false);
        if (typeof tables !== 'string') return new MemoryStore(dir, dim, false, tables, lock);
        problem = tables;
      }
      if (problem !== null && problem !== 'empty') {
        if (!local) throw new Error(`the store ${dir} cannot be used (${problem}); move it away or choose another --store`);
        // Another schema or vector size is an upgrade or a compressor change, not damage.
        const outdated = /^(schema version|vector dimension) /.test(problem);
        const aside = `${dir}.${outdated ? 'old' : 'corrupt'}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        renameSync(dir, aside);
        warn(
          outdated
            ? `the store ${dir} was made by another Engram version or compressor (${problem}); moved it to ${aside} (safe to delete) and started a fresh one to re-index into`
            : `the store ${dir} could not be used (${problem}); moved it to ${aside} and started a fresh one`,
        );
      }
      return new MemoryStore(dir, dim, false, await createFresh(dir, dim), lock);
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /**
   * Runs a read again when a concurrent optimize() (this process's, or the writer's) deleted the
   * files of the version it was reading: LanceDB reads data files lazily, and the cleanup keeps no
   * old versions (the store stays small). The next attempt reads the latest version.
   */
  private async retrying<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (err) {
        if (attempt >= READ_ATTEMPTS || !VANISHED_FILE.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 10 * attempt));
      }
    }
  }

  private rows(query: { toArray(): Promise<unknown[]> }): Promise<Row[]> {
    return this.retrying(async () => (await query.toArray()) as Row[]);
  }

  private writable(): void {
    if (this.closed) throw new Error('the store is closed');
    if (this.readOnly) throw new Error(`the store ${this.dir} was opened read-only`);
  }

  private live(): void {
    if (this.closed) throw new Error('the store is closed');
  }

  /** File records by path: all of them, or only those of `paths` (cheap for a few watcher events). */
  async files(paths?: readonly string[]): Promise<Map<string, FileRecord>> {
    this.live();
    const columns = ['path', 'size', 'mtimeMs', 'hash', 'skip', 'blocks', 'tokens'];
    const rows: Row[] = [];
    if (paths === undefined) rows.push(...(await this.rows(this.t.files.query().select(columns))));
    else for (const p of pieces([...new Set(paths)], IN_LIST)) rows.push(...(await this.rows(this.t.files.query().where(sqlIn('path', p)).select(columns))));
    const out = new Map<string, FileRecord>();
    for (const r of rows) {
      const rec = recordOf(r);
      out.set(rec.path, rec);
    }
    return out;
  }

  /**
   * Replaces everything about these files: new blocks, then records, then the old
   * blocks are deleted (see the crash-safety note at the top). One LanceDB write per
   * table per call, whatever the batch size.
   */
  async writeFiles(batch: ReadonlyArray<FileWrite>): Promise<void> {
    this.writable();
    if (batch.length === 0) return;
    // the last write of a path in a batch wins
    const byPath = new Map<string, FileWrite>();
    for (const w of batch) byPath.set(w.record.path, w);
    const wid = randomBytes(8).toString('hex');
    const blockRows: Row[] = [];
    const fileRows: Row[] = [];
    for (const { record, blocks } of byPath.values()) {
      for (const b of blocks) {
        if (b.path !== record.path) throw new Error(`block ${b.id} has path ${b.path}, not ${record.path}`);
        if (b.vector.length !== this.dim) throw new Error(`block ${b.id} has a ${b.vector.length}-dim vector; the store holds ${this.dim}`);
        blockRows.push({
          id: b.id,
          path: b.path,
          startLine: b.startLine,
          endLine: b.endLine,
          lang: b.lang,
          symbols: b.symbols.join('\n'),
          hash: b.hash,
          fileHash: record.hash,
          wid,
          model: b.model,
          tokens: b.tokens,
          compressedTokens: b.compressedTokens,
          compressed: b.compressed,
          terms: b.terms ?? termsOf(b.compressed, [b.path.replace(/[/\\.]+/g, ' ')], b.symbols),
          vector: toHalfSafe(b.vector),
        });
      }
      fileRows.push({
        path: record.path,
        size: record.size,
        mtimeMs: record.mtimeMs,
        hash: record.hash,
        skip: record.skip,
        blocks: record.blocks,
        tokens: record.tokens,
        wid,
      });
    }
    if (blockRows.length > 0) await this.t.blocks.add(blockRows);
    await this.t.files.mergeInsert('path').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(fileRows);
    for (const paths of pieces([...byPath.keys()], IN_LIST)) {
      await this.t.blocks.delete(`${sqlIn('path', paths)} AND \`wid\` <> ${sqlString(wid)}`);
    }
    await this.touch();
  }

  async deleteFiles(paths: readonly string[]): Promise<void> {
    this.writable();
    if (paths.length === 0) return;
    const unique = [...new Set(paths)];
    for (const p of pieces(unique, IN_LIST)) await this.t.files.delete(sqlIn('path', p));
    for (const p of pieces(unique, IN_LIST)) await this.t.blocks.delete(sqlIn('path', p));
    await this.touch();
  }

  /** Deletes blocks whose (path, fileHash, wid) matches no file record; returns how many. */
  async recover(): Promise<number> {
    this.writable();
    const owners = new Map<string, string>();
    for (const r of await this.rows(this.t.files.query().select(['path', 'hash', 'wid']))) {
      owners.set(str(r, 'path'), `${str(r, 'hash')}\0${str(r, 'wid')}`);
    }
    // a write id is shared by every file of one writeFiles call, so orphans are (wid, path) pairs
    const orphans = new Map<string, Set<string>>();
    let count = 0;
    for await (const batch of this.t.blocks.query().select(['path', 'fileHash', 'wid'])) {
      const ps = batch.getChild('path');
      const fh = batch.getChild('fileHash');
      const ws = batch.getChild('wid');
      for (let i = 0; i < batch.numRows; i++) {
        const path = String(ps?.get(i));
        const wid = String(ws?.get(i));
        if (owners.get(path) === `${String(fh?.get(i))}\0${wid}`) continue;
        count++;
        let set = orphans.get(wid);
        if (set === undefined) orphans.set(wid, (set = new Set()));
        set.add(path);
      }
    }
    for (const [wid, paths] of orphans) {
      for (const p of pieces([...paths], IN_LIST)) await this.t.blocks.delete(`${sqlEq('wid', wid)} AND ${sqlIn('path', p)}`);
    }
    return count;
  }

  async compressedByHash(hashes: readonly string[], model: string): Promise<Map<string, Compressed>> {
    this.live();
    const out = new Map<string, Compressed>();
    for (const hs of pieces([...new Set(hashes)], IN_LIST)) {
      const rows = await this.rows(
        this.t.blocks
          .query()
          .where(`${sqlEq('model', model)} AND ${sqlIn('hash', hs)}`)
          .select(['hash', 'compressed', 'compressedTokens', 'vector']),
      );
      for (const r of rows) {
        const h = str(r, 'hash');
        if (!out.has(h)) out.set(h, { compressed: str(r, 'compressed'), compressedTokens: num(r, 'compressedTokens'), vector: vectorOf(r) });
      }
    }
    return out;
  }

  async getBlock(id: string): Promise<MemoryBlock | null> {
    return (await this.getBlocks([id])).get(id) ?? null;
  }

  /** The blocks with these ids that exist, by id: one query per IN_LIST ids, not one per block. */
  async getBlocks(ids: readonly string[]): Promise<Map<string, MemoryBlock>> {
    this.live();
    const out = new Map<string, MemoryBlock>();
    for (const p of pieces([...new Set(ids)], IN_LIST)) {
      for (const r of await this.rows(this.t.blocks.query().where(sqlIn('id', p)))) {
        const b = blockOf(r);
        out.set(b.id, b);
      }
    }
    return out;
  }

  async blocksForPath(path: string): Promise<MemoryBlock[]> {
    this.live();
    const rows = await this.rows(this.t.blocks.query().where(sqlEq('path', path)));
    return rows.map(blockOf).sort(byPathLine);
  }

  /** Every block of every file record, in path/line order, read a page of files at a time. */
  async *allBlocks(): AsyncIterable<MemoryBlock> {
    this.live();
    const paths = [...(await this.files()).values()]
      .filter((r) => r.blocks > 0)
      .map((r) => r.path)
      .sort();
    for (const page of pieces(paths, PAGE_PATHS)) {
      const rows = await this.rows(this.t.blocks.query().where(sqlIn('path', page)));
      const blocks = rows.map(blockOf).sort(byPathLine);
      for (const b of blocks) yield b;
    }
  }

  /** Nearest blocks by cosine similarity (vectors are L2-normalised, so 1 - dot distance). */
  async searchVector(vector: Float32Array, k: number): Promise<SearchHit[]> {
    this.live();
    if (vector.length !== this.dim) throw new Error(`query vector has ${vector.length} dimensions; the store holds ${this.dim}`);
    if (k <= 0) return [];
    const rows = await this.rows(
      this.t.blocks
        .query()
        .nearestTo(vector)
        .distanceType('dot')
        .limit(k)
        .select(['id', 'path', 'startLine', 'endLine', '_distance']),
    );
    return rows.map((r) => hitOf(r, 1 - num(r, '_distance')));
  }

  /**
   * BM25 over block terms. Any user text is accepted; no usable words means no hits.
   * LanceDB ranks rows covered by the full-text index, but rows written since the last
   * optimize() come back unranked and cut at the limit in table order; so ask for more
   * than k and rank here (optimize() after every index run keeps those rows few).
   */
  async searchLexical(query: string, k: number): Promise<SearchHit[]> {
    return (await this.lexicalRows(query, k, []))
      .map((r) => hitOf(r, num(r, '_score')))
      .sort((a, b) => b.score - a.score || a.blockId.localeCompare(b.blockId))
      .slice(0, k);
  }

  /**
   * A code name's blocks: those that define it first, then those that use it, each by BM25.
   * BM25 alone ranks a short import line above the long block defining the name (rxjs's
   * `innerFrom`, imported by a hundred files, came after sixteen of them).
   */
  async searchName(name: string, k: number): Promise<SearchHit[]> {
    const defines = (r: Row): boolean => definesSymbol(str(r, 'symbols').split('\n'), name);
    return (await this.lexicalRows(name, k, ['symbols']))
      .map((r) => ({ hit: hitOf(r, num(r, '_score')), defines: defines(r) }))
      .sort((a, b) => Number(b.defines) - Number(a.defines) || b.hit.score - a.hit.score || a.hit.blockId.localeCompare(b.hit.blockId))
      .slice(0, k)
      .map((x) => x.hit);
  }

  /**
   * Every block that mentions a code name (holds its terms: see nameTerms), in path/line order, at
   * most `limit`: where a search for all its uses looks. Null when the name has no terms of its own.
   * A superset: `close` is also a part of `closeAll`, and names in comments and strings count.
   */
  async mentioning(name: string, limit: number): Promise<SearchHit[] | null> {
    this.live();
    const terms = nameTerms(name);
    if (!terms.length) return null;
    if (limit <= 0) return [];
    const rows = await this.rows(
      this.t.blocks
        .query()
        .fullTextSearch(new lancedb.MatchQuery(terms.join(' '), 'terms', { operator: lancedb.Operator.And }))
        .limit(limit)
        .select(['id', 'path', 'startLine', 'endLine', '_score']),
    );
    return rows.map((r) => hitOf(r, num(r, '_score'))).sort(byPathLine);
  }

  /** Rows matching any of the query's terms, with their BM25 `_score` (over-fetched: see searchLexical). */
  private async lexicalRows(query: string, k: number, columns: readonly string[]): Promise<Row[]> {
    this.live();
    const terms = queryTerms(query);
    if (terms.length === 0 || k <= 0) return [];
    return this.rows(
      this.t.blocks
        .query()
        .fullTextSearch(new lancedb.MatchQuery(terms.join(' '), 'terms', { operator: lancedb.Operator.Or }))
        .limit(Math.max(k * LEXICAL_OVERFETCH, 200))
        .select(['id', 'path', 'startLine', 'endLine', '_score', ...columns]),
    );
  }

  async blocksNeedingModel(model: string, limit: number): Promise<MemoryBlock[]> {
    this.live();
    if (limit <= 0) return [];
    const rows = await this.rows(this.t.blocks.query().where(`\`model\` <> ${sqlString(model)}`).limit(limit));
    return rows.map(blockOf);
  }

  async getMeta(key: string): Promise<string | null> {
    this.live();
    const rows = await this.rows(this.t.meta.query().where(sqlEq('key', key)).limit(1));
    return rows[0] ? str(rows[0], 'value') : null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.setMetas({ [key]: value });
  }

  /** Several meta values in one commit. */
  async setMetas(values: Readonly<Record<string, string>>): Promise<void> {
    this.writable();
    const rows = Object.entries(values).map(([key, value]) => ({ key, value }));
    if (rows.length > 0) await this.t.meta.mergeInsert('key').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
  }

  private async touch(): Promise<void> {
    await this.setMeta(META_UPDATED, new Date().toISOString());
  }

  async stats(): Promise<StoreStats> {
    this.live();
    const files = await this.files();
    let tokens = 0;
    const skipped: Record<string, number> = {};
    let indexed = 0;
    let sourceBytes = 0;
    for (const r of files.values()) {
      if (r.skip !== null) skipped[r.skip] = (skipped[r.skip] ?? 0) + 1;
      else {
        indexed++;
        tokens += r.tokens;
        sourceBytes += r.size;
      }
    }
    let compressor = await this.getMeta(META_COMPRESSOR);
    if (compressor === null) {
      const any = await this.rows(this.t.blocks.query().select(['model']).limit(1));
      compressor = any[0] ? str(any[0], 'model') : null;
    }
    return {
      files: indexed,
      blocks: await this.retrying(() => this.t.blocks.countRows()),
      tokens,
      skipped,
      storeBytes: isUri(this.dir) ? 0 : dirBytes(this.dir),
      sourceBytes,
      compressor,
      updatedAt: await this.getMeta(META_UPDATED),
    };
  }

  /**
   * Compacts fragments, brings the full-text index up to date and removes old
   * versions. Safe to delete unverified files because this process holds the writer lock.
   */
  async optimize(): Promise<void> {
    this.writable();
    const cleanupOlderThan = new Date(Date.now() + 1000);
    for (const table of [this.t.blocks, this.t.files, this.t.meta]) {
      await table.optimize({ cleanupOlderThan, deleteUnverified: true });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const table of [this.t.blocks, this.t.files, this.t.meta]) table.close();
    this.t.db.close();
    this.lock?.release();
  }
}

async function connect(dir: string, readOnly: boolean): Promise<lancedb.Connection> {
  // readers see the writer's commits as they land
  return lancedb.connect(dir, readOnly ? { readConsistencyInterval: 0 } : {});
}

/** The tables of an existing store, or why it cannot be used ('empty' when there is none). */
async function openExisting(dir: string, dim: number, readOnly: boolean): Promise<Tables | string> {
  let db: lancedb.Connection | null = null;
  try {
    db = await connect(dir, readOnly);
    const names = await db.tableNames();
    if (names.length === 0) {
      db.close();
      return 'empty';
    }
    const missing = [BLOCKS, FILES, META].filter((n) => !names.includes(n));
    if (missing.length > 0) throw new Error(`missing tables: ${missing.join(', ')}`);
    const [blocks, files, meta] = await Promise.all([db.openTable(BLOCKS), db.openTable(FILES), db.openTable(META)]);
    const rows = (await meta.query().toArray()) as Row[];
    const m = new Map(rows.map((r) => [str(r, 'key'), str(r, 'value')]));
    const version = m.get(META_SCHEMA) ?? '(none)';
    if (version !== SCHEMA_VERSION) throw new Error(`schema version ${version}, expected ${SCHEMA_VERSION}`);
    if (m.get(META_DIM) !== String(dim)) throw new Error(`vector dimension ${m.get(META_DIM) ?? '(none)'}, expected ${dim}`);
    // touch every table's data so a damaged manifest or data file shows now, not mid-run
    await Promise.all([blocks.countRows(), files.countRows(), blocks.query().limit(1).toArray(), files.query().limit(1).toArray()]);
    return { db, blocks, files, meta };
  } catch (err) {
    try {
      db?.close();
    } catch {
      // closing a broken connection
    }
    return err instanceof Error ? err.message.split('\n')[0] ?? 'unreadable' : String(err);
  }
}

async function createFresh(dir: string, dim: number): Promise<Tables> {
  const db = await connect(dir, false);
  const blocks = await db.createEmptyTable(BLOCKS, blocksSchema(dim), {
    storageOptions: { new_table_data_storage_version: DATA_STORAGE_VERSION },
  });
  const files = await db.createEmptyTable(FILES, filesSchema());
  await blocks.createIndex('terms', {
    config: lancedb.Index.fts({ withPosition: false, baseTokenizer: 'simple', lowercase: true, stem: true, removeStopWords: false }),
  });
  // meta last: a store without its schema version is an unfinished creation, moved aside on next open
  const meta = await db.createEmptyTable(META, metaSchema());
  await meta.add([
    { key: META_SCHEMA, value: SCHEMA_VERSION },
    { key: META_DIM, value: String(dim) },
  ]);
  return { db, blocks, files, meta };
}
