// Latent memory blocks: the key/value states a decoder keeps at a chunk's beacon
// positions (training/engram_training/beacon.py), in one flat float32 array so they
// cache, concatenate and go to disk without copies of their shape logic elsewhere.

/** One block's beacon states: data is [layers, 2 (key, value), kvHeads, length, headDim], row-major. */
export interface LatentStates {
  layers: number;
  kvHeads: number;
  /** Number of beacon positions kept (ceil(tokens / ratio) per chunk). */
  length: number;
  headDim: number;
  data: Float32Array;
}

/**
 * The chunk with a beacon after every `ratio` tokens (and after a last, shorter group),
 * and the beacon positions in that sequence; the same layout as beacon.py's `interleave`.
 */
export function interleaveBeacons(ids: readonly number[], ratio: number, beaconId: number): { ids: number[]; positions: number[] } {
  const out: number[] = [];
  const positions: number[] = [];
  for (let g = 0; g < ids.length; g += ratio) {
    out.push(...ids.slice(g, g + ratio));
    positions.push(out.length);
    out.push(beaconId);
  }
  return { ids: out, positions };
}

/** Bytes the states take in memory (and, plus a small header, on disk). */
export function statesBytes(s: LatentStates): number {
  return s.data.byteLength;
}

/** The [kvHeads, length, headDim] slab of one layer's key (kv 0) or value (kv 1). */
export function statesSlab(s: LatentStates, layer: number, kv: 0 | 1): Float32Array {
  const size = s.kvHeads * s.length * s.headDim;
  const at = (layer * 2 + kv) * size;
  return s.data.subarray(at, at + size);
}

/**
 * Keep the given sequence positions of per-layer present tensors ([1, kvHeads, total, headDim]
 * each, key then value per layer).
 */
export function sliceStates(
  present: ReadonlyArray<{ key: Float32Array; value: Float32Array }>,
  kvHeads: number,
  total: number,
  headDim: number,
  positions: readonly number[],
): LatentStates {
  const m = positions.length;
  const data = new Float32Array(present.length * 2 * kvHeads * m * headDim);
  let o = 0;
  for (const layer of present) {
    for (const src of [layer.key, layer.value]) {
      for (let h = 0; h < kvHeads; h++) {
        for (const p of positions) {
          const from = (h * total + p) * headDim;
          data.set(src.subarray(from, from + headDim), o);
          o += headDim;
        }
      }
    }
  }
  return { layers: present.length, kvHeads, length: m, headDim, data };
}

/** Several blocks' states as one prefix, in reading order (concatenated along the sequence). */
export function concatStates(blocks: readonly LatentStates[]): LatentStates {
  const first = blocks[0];
  if (!first) throw new Error('concatStates needs at least one block');
  for (const b of blocks) {
    if (b.layers !== first.layers || b.kvHeads !== first.kvHeads || b.headDim !== first.headDim) {
      throw new Error('latent states of different models cannot be read together');
    }
  }
  if (blocks.length === 1) return first;
  const length = blocks.reduce((n, b) => n + b.length, 0);
  const { layers, kvHeads, headDim } = first;
  const data = new Float32Array(layers * 2 * kvHeads * length * headDim);
  let o = 0;
  for (let slab = 0; slab < layers * 2; slab++) {
    for (let h = 0; h < kvHeads; h++) {
      for (const b of blocks) {
        const rows = b.length * headDim;
        const from = (slab * kvHeads + h) * rows;
        data.set(b.data.subarray(from, from + rows), o);
        o += rows;
      }
    }
  }
  return { layers, kvHeads, length, headDim, data };
}
