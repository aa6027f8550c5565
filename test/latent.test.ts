import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatentReasoner } from '../src/core/models/latent.js';
import { LatentCache } from '../src/core/models/latent-cache.js';
import { concatStates, interleaveBeacons, type LatentStates } from '../src/core/models/latent-states.js';
import { UserError } from '../src/core/types.js';

const FIXTURE = join(__dirname, 'fixtures', 'tiny-beacon');

interface RefBlock {
  text: string;
  chunk_ids: number[];
  interleaved: number[];
  states: { dims: number[]; data: number[] };
}
interface RefCase {
  blocks: number[];
  question: string;
  question_ids: number[];
  greedy_ids: number[];
  greedy_text: string;
}
const ref = JSON.parse(readFileSync(join(FIXTURE, 'reference.json'), 'utf8')) as {
  ratio: number;
  beacon_id: number;
  blocks: RefBlock[];
  cases: RefCase[];
};

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function assertStatesMatch(s: LatentStates, want: RefBlock['states']): void {
  assert.deepEqual([s.layers, 2, s.kvHeads, s.length, s.headDim], want.dims);
  assert.ok(maxDiff(s.data, want.data) < 1e-4, `max |delta| ${maxDiff(s.data, want.data)}`);
}

describe('latent memory on the tiny beacon fixture', () => {
  let model: LatentReasoner;
  const tmp: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'engram-latent-'));
    tmp.push(d);
    return d;
  };
  before(async () => {
    model = await LatentReasoner.load(FIXTURE, { provider: 'cpu', threads: 1 });
  });
  after(async () => {
    await model.release();
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  test('reads beacon.json and lays beacons out as the Python side does', () => {
    assert.equal(model.beacon.ratio, ref.ratio);
    assert.equal(model.beacon.tokenId, ref.beacon_id);
    assert.equal(model.tokenizer.encode('<|beacon|>', false)[0], ref.beacon_id);
    for (const b of ref.blocks) {
      const { ids, positions } = interleaveBeacons(b.chunk_ids, ref.ratio, ref.beacon_id);
      assert.deepEqual(ids, b.interleaved);
      assert.equal(positions.length, Math.ceil(b.chunk_ids.length / ref.ratio));
      for (const p of positions) assert.equal(ids[p], ref.beacon_id);
    }
  });

  test('beacon states computed from the ONNX graph equal PyTorch', async () => {
    for (const b of ref.blocks) assertStatesMatch(await model.statesOfIds(b.chunk_ids), b.states);
  });

  test('greedy answers with the states as past key values match PyTorch', async () => {
    const blocks = await Promise.all(ref.blocks.map((b) => model.statesOfIds(b.chunk_ids)));
    assert.notDeepEqual(ref.cases[0]!.greedy_ids, ref.cases[1]!.greedy_ids, 'the fixture answers from its prefix');
    for (const c of ref.cases) {
      assert.deepEqual(model.tokenizer.encode(c.question, false), c.question_ids);
      const got = await model.answer(c.question, c.blocks.map((i) => blocks[i]!));
      assert.deepEqual(got.tokenIds, c.greedy_ids, `blocks ${c.blocks.join(',')}`);
      assert.equal(got.text, c.greedy_text);
      assert.equal(got.prefixTokens, c.blocks.reduce((n, i) => n + blocks[i]!.length, 0));
    }
  });

  test('concatenated states keep each block per layer, key/value and head', async () => {
    const [a, b] = await Promise.all(ref.blocks.map((x) => model.statesOfIds(x.chunk_ids)));
    const both = concatStates([a!, b!]);
    assert.equal(both.length, a!.length + b!.length);
    const row = (s: LatentStates, layer: number, kv: number, head: number, pos: number): number[] => {
      const at = ((((layer * 2 + kv) * s.kvHeads + head) * s.length + pos) * s.headDim);
      return Array.from(s.data.subarray(at, at + s.headDim));
    };
    assert.deepEqual(row(both, 1, 1, 1, 0), row(a!, 1, 1, 1, 0));
    assert.deepEqual(row(both, 1, 1, 1, a!.length), row(b!, 1, 1, 1, 0));
  });

  test('the cache returns the same states without recomputing, from memory and from disk', async () => {
    const dir = tempDir();
    const block = ref.blocks[0]!;
    let computed = 0;
    const compute = (): Promise<LatentStates> => {
      computed++;
      return model.statesOfIds(block.chunk_ids);
    };
    const cache = new LatentCache({ dir });
    const first = await cache.getOrCompute(model.modelId, 'hash-a', compute);
    const again = await cache.getOrCompute(model.modelId, 'hash-a', compute);
    assert.equal(first.source, 'computed');
    assert.equal(again.source, 'memory');
    assert.equal(again.states, first.states);
    assert.equal(computed, 1);
    assert.equal(readdirSync(join(dir, model.modelId)).length, 1);

    const fresh = new LatentCache({ dir });
    const fromDisk = await fresh.getOrCompute(model.modelId, 'hash-a', compute);
    assert.equal(fromDisk.source, 'disk');
    assert.equal(computed, 1);
    assertStatesMatch(fromDisk.states, block.states);
    // Another model id is another entry, computed anew.
    assert.equal((await fresh.getOrCompute('other-model', 'hash-a', compute)).source, 'computed');
    assert.equal(computed, 2);
  });

  test('the memory budget evicts the least recently used block, and a broken file is recomputed', async () => {
    const dir = tempDir();
    const one = await model.statesOfIds(ref.blocks[0]!.chunk_ids);
    const cache = new LatentCache({ maxBytes: one.data.byteLength * 2 });
    for (const h of ['a', 'b', 'c']) await cache.getOrCompute('m', h, () => model.statesOfIds(ref.blocks[0]!.chunk_ids));
    assert.deepEqual([cache.stats().entries, cache.stats().bytes], [2, one.data.byteLength * 2]);
    assert.equal((await cache.getOrCompute('m', 'c', () => Promise.reject(new Error('recomputed')))).source, 'memory');
    assert.equal((await cache.getOrCompute('m', 'a', () => Promise.resolve(one))).source, 'computed');

    const disk = new LatentCache({ dir });
    await disk.getOrCompute('m', 'x', () => Promise.resolve(one));
    writeFileSync(join(dir, 'm', 'x.bin'), 'not a latent file');
    const fresh = new LatentCache({ dir });
    assert.equal((await fresh.getOrCompute('m', 'x', () => Promise.resolve(one))).source, 'computed');
  });

  test('blockStates goes through the reasoner cache, keyed by model and block hash', async () => {
    const text = ref.blocks[1]!.text;
    const a = await model.blockStates('block-1', text);
    const b = await model.blockStates('block-1', text);
    assert.deepEqual([a.source, b.source], ['computed', 'memory']);
    assert.equal(a.states.length, Math.ceil(model.tokenizer.encode(text, false).length / ref.ratio));
    const direct = await model.statesOfIds(model.tokenizer.encode(text, false));
    assert.ok(maxDiff(b.states.data, direct.data) === 0);
  });

  test('a decoder without beacon.json is refused with a clear message', async () => {
    await assert.rejects(LatentReasoner.load(join(__dirname, 'fixtures', 'tiny-reasoner')), (e: unknown) => e instanceof UserError && /beacon\.json/.test(e.message));
  });
});
