// Choosing the next token: greedy, or sampling with temperature, top-k and top-p
// from a seeded generator so tests and replays are reproducible.

export interface SamplingOptions {
  /** 0 or unset: greedy. */
  temperature?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches topP. */
  topP?: number;
  topK?: number;
  /** Seed for the sampler (default: random). */
  seed?: number;
}

/** mulberry32: small, fast, and good enough for sampling. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > max) {
      max = v;
      best = i;
    }
  }
  return best;
}

export function makeSampler(opts: SamplingOptions): (logits: ArrayLike<number>) => number {
  const temperature = opts.temperature ?? 0;
  if (!(temperature > 0)) return argmax;
  const rand = seededRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
  const topP = opts.topP ?? 1;
  const topK = opts.topK ?? 0;
  return (logits) => {
    const n = logits.length;
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, logits[i]!);
    const idx: number[] = [];
    const p: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = Math.exp((logits[i]! - max) / temperature);
      if (e > 0) {
        idx.push(i);
        p.push(e);
      }
    }
    const order = idx.map((_, k) => k).sort((a, b) => p[b]! - p[a]!);
    const keep = topK > 0 ? order.slice(0, topK) : order;
    let total = 0;
    for (const k of keep) total += p[k]!;
    // Cut the tail once the kept mass reaches topP.
    let mass = 0;
    let cut = keep.length;
    for (let j = 0; j < keep.length; j++) {
      mass += p[keep[j]!]! / total;
      if (mass >= topP) {
        cut = j + 1;
        break;
      }
    }
    const kept = keep.slice(0, cut);
    let sum = 0;
    for (const k of kept) sum += p[k]!;
    let r = rand() * sum;
    for (const k of kept) {
      r -= p[k]!;
      if (r <= 0) return idx[k]!;
    }
    return idx[kept[kept.length - 1]!]!;
  };
}
