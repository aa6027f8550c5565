// A block's latent states are computed once per (model, block content) and kept:
// in memory up to a byte budget (least recently used out first), and optionally on
// disk under the store folder, so a later session reads them instead of recomputing.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { statesBytes, type LatentStates } from './latent-states.js';

export interface LatentCacheOptions {
  /** Memory budget in bytes (default 256 MiB). */
  maxBytes?: number;
  /** Folder for the on-disk copy (e.g. `<store>/latent`); none keeps states in memory only. */
  dir?: string;
}

export type LatentSource = 'memory' | 'disk' | 'computed';

export interface LatentCacheStats {
  entries: number;
  bytes: number;
  memoryHits: number;
  diskHits: number;
  computed: number;
}

const MAGIC = 'ENGRAM-LATENT-1';

export class LatentCache {
  private readonly entries = new Map<string, LatentStates>();
  private readonly maxBytes: number;
  private readonly dir: string | undefined;
  private bytes = 0;
  private readonly counts = { memoryHits: 0, diskHits: 0, computed: 0 };

  constructor(opts: LatentCacheOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    this.dir = opts.dir;
  }

  /** The states of `blockHash` under `modelId`, computing (and keeping) them only when not cached. */
  async getOrCompute(
    modelId: string,
    blockHash: string,
    compute: () => Promise<LatentStates>,
  ): Promise<{ states: LatentStates; source: LatentSource }> {
    const key = `${modelId}/${blockHash}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key); // re-insert: most recently used last
      this.entries.set(key, hit);
      this.counts.memoryHits++;
      return { states: hit, source: 'memory' };
    }
    const file = this.file(modelId, blockHash);
    const fromDisk = file && existsSync(file) ? readStates(file) : undefined;
    if (fromDisk) {
      this.counts.diskHits++;
      this.remember(key, fromDisk);
      return { states: fromDisk, source: 'disk' };
    }
    const states = await compute();
    this.counts.computed++;
    this.remember(key, states);
    if (file) writeStates(file, states);
    return { states, source: 'computed' };
  }

  stats(): LatentCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, ...this.counts };
  }

  private remember(key: string, states: LatentStates): void {
    const size = statesBytes(states);
    if (size > this.maxBytes) return; // larger than the whole budget: disk only
    this.entries.set(key, states);
    this.bytes += size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= statesBytes(v);
    }
  }

  private file(modelId: string, blockHash: string): string | undefined {
    if (!this.dir) return undefined;
    const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
    return join(this.dir, safe(modelId), `${safe(blockHash)}.bin`);
  }
}

// File: one JSON header line (magic and shape), then the float32 data (little-endian).
function writeStates(file: string, s: LatentStates): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const header = Buffer.from(`${JSON.stringify({ magic: MAGIC, layers: s.layers, kvHeads: s.kvHeads, length: s.length, headDim: s.headDim })}\n`);
  const body = Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([header, body]));
  renameSync(tmp, file); // a crash never leaves half a file under the real name
}

/** The states in `file`, or undefined when it is not a complete latent file (then it is recomputed). */
function readStates(file: string): LatentStates | undefined {
  const buf = readFileSync(file);
  const nl = buf.indexOf(10);
  if (nl < 0) return undefined;
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const dims = [h.layers, h.kvHeads, h.length, h.headDim];
  if (h.magic !== MAGIC || !dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) return undefined;
  const [layers, kvHeads, length, headDim] = dims as number[];
  const count = layers! * 2 * kvHeads! * length! * headDim!;
  if (buf.length - nl - 1 !== count * 4) return undefined;
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(buf.subarray(nl + 1));
  return { layers: layers!, kvHeads: kvHeads!, length: length!, headDim: headDim!, data };
}
