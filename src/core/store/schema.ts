// Table layouts of the store. Bump SCHEMA_VERSION on any incompatible change: an
// older store is then moved aside and rebuilt (nothing is lost).
import { Field, FixedSizeList, Float16, Float64, Int32, Schema, Utf8 } from 'apache-arrow';

export const SCHEMA_VERSION = '5'; // 3: compound identifiers and defined names in `terms`; 4: names with digits whole; 5: default exports named by their files

export const BLOCKS = 'blocks';

/**
 * Lance data format of new tables. With zstd on the text columns, 2.0 measured
 * smaller than 2.1 on code (2.1's default string encodings ignore the zstd hint).
 */
export const DATA_STORAGE_VERSION = '2.0';

/**
 * Column encoding hint: zstd for the text columns. Level 9 cut store size ~4% below
 * level 3 at ~1.7K blocks/s written (far above indexing speed); 19 was 3x slower still.
 */
const ZSTD = new Map([
  ['lance-encoding:compression', 'zstd'],
  ['lance-encoding:compression-level', '9'],
]);
export const FILES = 'files';
export const META = 'meta';

/**
 * Vectors are stored as float16: half the bytes of float32 and, for L2-normalised
 * vectors of a few hundred dimensions, a cosine error far below ranking noise.
 */
export function blocksSchema(dim: number): Schema {
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('path', new Utf8(), false),
    new Field('startLine', new Int32(), false),
    new Field('endLine', new Int32(), false),
    new Field('lang', new Utf8(), false),
    new Field('symbols', new Utf8(), false), // newline-separated
    new Field('hash', new Utf8(), false),
    new Field('fileHash', new Utf8(), false),
    new Field('wid', new Utf8(), false), // write id: ties blocks to the file record that owns them
    new Field('model', new Utf8(), false),
    new Field('tokens', new Int32(), false),
    new Field('compressedTokens', new Int32(), false),
    new Field('compressed', new Utf8(), false, ZSTD),
    new Field('terms', new Utf8(), false, ZSTD),
    new Field('vector', new FixedSizeList(dim, new Field('item', new Float16(), true)), false),
  ]);
}

export function filesSchema(): Schema {
  return new Schema([
    new Field('path', new Utf8(), false),
    new Field('size', new Float64(), false),
    new Field('mtimeMs', new Float64(), false),
    new Field('hash', new Utf8(), false),
    new Field('skip', new Utf8(), true),
    new Field('blocks', new Int32(), false),
    new Field('tokens', new Int32(), false),
    new Field('wid', new Utf8(), false),
  ]);
}

export function metaSchema(): Schema {
  return new Schema([new Field('key', new Utf8(), false), new Field('value', new Utf8(), false)]);
}

/** SQL string literal for LanceDB filters. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** `column IN ('a', 'b')`; column names are backquoted (DataFusion folds bare names to lowercase). */
export function sqlIn(column: string, values: readonly string[]): string {
  return `\`${column}\` IN (${values.map(sqlString).join(', ')})`;
}

export function sqlEq(column: string, value: string): string {
  return `\`${column}\` = ${sqlString(value)}`;
}

/** Splits a list into pieces of at most `n` (filters with huge IN lists get slow). */
export function pieces<T>(list: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}
