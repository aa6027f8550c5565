import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelsCommand } from '../src/cli/commands/models.js';
import { EncoderModel } from '../src/core/models/encoder.js';
import { chooseProviders, detectCuda } from '../src/core/models/index.js';
import { FIXTURE, startHub, type Hub } from './models-hub.js';
import { memoryIO } from './support/cli-io.js';

const io = memoryIO;

interface ListJson {
  cacheDir: string;
  cuda: { usable: boolean; message: string };
  models: Array<{ name: string; role: string | null; source: string; architecture: string | null; provider: string; onnxFiles: string[]; problem?: string }>;
}

describe('engram models', () => {
  let dir: string;
  let hub: Hub;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'engram-models-cli-'));
    hub = await startHub();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    hub.server.closeAllConnections();
    hub.server.close();
  });

  test('pull fetches into ENGRAM_MODELS_DIR from HF_ENDPOINT, then list shows it with its provider', async () => {
    const env = { ENGRAM_MODELS_DIR: join(dir, 'cache'), HF_ENDPOINT: hub.url };
    const shipped = join(dir, 'shipped');
    mkdirSync(shipped);
    cpSync(FIXTURE, join(shipped, 'tiny'), { recursive: true });
    writeFileSync(
      join(shipped, 'manifest.json'),
      JSON.stringify({ models: [{ name: 'engram-tiny', role: 'reasoner', version: '0.0.1', path: 'tiny', files: [{ path: 'onnx/model.onnx', bytes: 1, sha256: 'x' }, { path: 'gone.bin', bytes: 1, sha256: 'x' }] }] }),
    );
    const p = io(env, dir);
    assert.equal(await modelsCommand(['pull', 'acme/tiny', '--revision', 'main'], p), 0, p.err());
    assert.match(p.out(), /acme\/tiny@c0ffee: 5 files/);
    assert.match(p.err(), /100\.0%/);
    assert.ok(existsSync(join(dir, 'cache', 'acme--tiny', 'onnx', 'model.onnx')));

    const l = io(env, dir);
    assert.equal(await modelsCommand(['list', '--json', '--models-dir', shipped], l), 0, l.err());
    const json = JSON.parse(l.out()) as ListJson;
    const pulled = json.models.find((m) => m.name === 'acme/tiny');
    assert.ok(pulled);
    assert.equal(pulled.source, 'cache');
    assert.equal(pulled.architecture, 'qwen2');
    assert.equal(pulled.provider, json.cuda.usable ? 'cuda' : 'cpu');
    const ship = json.models.find((m) => m.name === 'engram-tiny');
    assert.equal(ship?.role, 'reasoner');
    assert.equal(ship?.problem, 'missing gone.bin');
    const t = io(env, dir);
    assert.equal(await modelsCommand(['list'], t), 0);
    assert.match(t.out(), /acme\/tiny\treasoner\tc0ffee/);
    assert.match(t.err(), /provider: (cpu|cuda)/);
  });

  test('usage errors exit 1, failures exit 2', async () => {
    const env = { ENGRAM_MODELS_DIR: join(dir, 'cache2'), HF_ENDPOINT: hub.url };
    for (const argv of [[], ['frob'], ['pull'], ['pull', 'a/b', 'c/d'], ['pull', 'not a repo'], ['list', '--nope'], ['pull', 'acme/missing']]) {
      const x = io(env, dir);
      assert.equal(await modelsCommand(argv, x), 1, `${argv.join(' ')}: ${x.err()}`);
      assert.match(x.err(), /engram|usage/);
    }
    const bad = io(env, dir);
    assert.equal(await modelsCommand(['pull', 'acme/bad'], bad), 2);
    assert.match(bad.err(), /checksum mismatch/);
    const down = io({ ...env, HF_ENDPOINT: 'http://127.0.0.1:9' }, dir);
    assert.equal(await modelsCommand(['pull', 'acme/tiny'], down), 2);
    assert.match(down.err(), /cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});

describe('EncoderModel: batched runs of our own graphs', () => {
  test('padded batches give the same rows as one-by-one runs', async () => {
    // The no-past decoder graph stands in for an encoder: inputs input_ids, attention_mask, position_ids.
    const enc = await EncoderModel.load(join(FIXTURE, 'nopast', 'onnx', 'model.onnx'), { provider: 'cpu', batchSize: 3, threads: 1 });
    try {
      assert.deepEqual([...enc.inputNames], ['input_ids', 'attention_mask', 'position_ids']);
      const seqs = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14], [15]];
      const rows = seqs.map((ids) => ({ input_ids: ids, attention_mask: ids.map(() => 1), position_ids: ids.map((_, i) => i) }));
      const batched = await enc.runBatch(rows);
      const single = await enc.runBatch(rows, { batchSize: 1 });
      assert.equal(batched.length, 4);
      seqs.forEach((ids, r) => {
        const vocab = single[r]!.logits!.dims[1]!;
        assert.equal(batched[r]!.logits!.dims[1], vocab);
        const a = batched[r]!.logits!.data.subarray(0, ids.length * vocab);
        const b = single[r]!.logits!.data;
        let diff = 0;
        for (let i = 0; i < b.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        assert.ok(diff < 1e-4, `row ${r}: ${diff}`);
      });
      await assert.rejects(enc.runBatch([{ input_ids: [1] }]), /no input "attention_mask"/);
      await assert.rejects(EncoderModel.load(join(FIXTURE, 'nopast', 'onnx', 'model.onnx'), { batchSize: 0 }), /batch size/);
    } finally {
      await enc.release();
    }
  });
});

test('the device setting (ENGRAM_DEVICE) picks the provider; CUDA asked for but missing says so and runs on CPU', () => {
  assert.deepEqual(chooseProviders('auto', { ENGRAM_DEVICE: 'cpu' }), { providers: ['cpu'], note: 'CPU requested' });
  const cuda = chooseProviders('auto', { ENGRAM_DEVICE: 'cuda' });
  if (detectCuda().usable) assert.deepEqual(cuda.providers, ['cuda', 'cpu']);
  else {
    assert.deepEqual(cuda.providers, ['cpu']);
    assert.match(cuda.note, /CUDA requested but not usable/);
  }
  // An explicit preference wins over the setting.
  assert.deepEqual(chooseProviders('cpu', { ENGRAM_DEVICE: 'cuda' }).providers, ['cpu']);
});
