// npm run bench:models — prefill and decode tokens/s and peak RSS for the fixture
// reasoner and every model in models/manifest.json (each in its own process, so
// peak RSS is per model). Options: --provider cpu|cuda|auto (default cpu),
// --model DIR (more model folders, repeatable), --prompt-tokens N, --new-tokens N.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    provider: { type: 'string', default: 'cpu' },
    model: { type: 'string', multiple: true, default: [] },
    'prompt-tokens': { type: 'string', default: '128' },
    'new-tokens': { type: 'string', default: '64' },
    child: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const root = resolve(import.meta.dirname, '..');
const models = await import(join(root, 'src/core/models/index.ts'));

if (values.child) {
  process.stdout.write(JSON.stringify(await benchOne(values.child)) + '\n');
  process.exit(0);
}

const targets = [
  { name: 'tiny-reasoner (fixture, KV cache)', dir: join(root, 'test/fixtures/tiny-reasoner') },
  { name: 'tiny-reasoner (fixture, no past)', dir: join(root, 'test/fixtures/tiny-reasoner/nopast') },
  { name: 'tiny-reasoner (fixture, int8)', dir: join(root, 'test/fixtures/tiny-reasoner'), dtype: 'int8' },
];
for (const e of models.readManifest(join(root, 'models'))) targets.push({ name: `${e.name} (${e.role})`, dir: join(root, 'models', e.path) });
for (const m of values.model) targets.push({ name: m, dir: resolve(m) });

const rows = [];
for (const t of targets) {
  if (!existsSync(t.dir)) continue;
  const args = ['--import', 'tsx', import.meta.filename, '--child', JSON.stringify(t), '--provider', values.provider,
    '--prompt-tokens', values['prompt-tokens'], '--new-tokens', values['new-tokens']];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: root });
  const line = r.stdout.trim().split('\n').pop();
  rows.push(r.status === 0 && line ? JSON.parse(line) : { name: t.name, error: (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ') });
}
if (values.json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log(`cuda: ${models.detectCuda().message}`);
  for (const r of rows) {
    if (r.error) console.log(`${r.name}: ERROR ${r.error}`);
    else console.log(`${r.name} [${r.kind}, ${r.provider}, ${r.file}]: ${r.summary}, peak RSS ${r.peakRssMb} MB`);
  }
}

async function benchOne(spec) {
  const t = JSON.parse(spec);
  const provider = values.provider;
  const promptTokens = Number(values['prompt-tokens']);
  const newTokens = Number(values['new-tokens']);
  const folder = models.readModelFolder(t.dir);
  const isDecoder = models.DECODER_ARCHITECTURES.includes(folder.config.model_type);
  const base = { name: t.name };
  if (isDecoder) {
    const m = await models.DecoderModel.load(t.dir, { provider, ...(t.dtype ? { dtype: t.dtype } : {}) });
    const ctx = m.info.contextLength;
    const n = Math.min(promptTokens, Math.max(8, ctx - newTokens - 1));
    const words = 'def add(a, b):\n    return a + b\nclass Store:\n    def get(self, key):\n        return self.items[key]\n';
    let ids = m.tokenizer.encode(words.repeat(64), false).slice(0, n);
    await m.generate(ids.slice(0, 8), { maxNewTokens: 4, ignoreEos: true }); // warm-up
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await m.generate(ids, { maxNewTokens: newTokens, ignoreEos: true }));
    const best = (f) => Math.max(...runs.map(f));
    const prefill = best((r) => (n / r.prefillMs) * 1000);
    const decode = best((r) => ((r.tokenIds.length - 1) / r.decodeMs) * 1000);
    await m.release();
    return {
      ...base, kind: 'decoder', provider: m.info.provider, file: m.info.file.slice(t.dir.length + 1), usesPast: m.info.usesPast,
      promptTokens: n, newTokens, prefillTokPerSec: Math.round(prefill), decodeTokPerSec: Math.round(decode),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      summary: `prefill ${Math.round(prefill)} tok/s (${n} tokens), decode ${Math.round(decode)} tok/s (${newTokens} tokens)`,
    };
  }
  // Encoders (compressor, gate): rows of token ids through the batched runner.
  const picked = models.pickOnnxFile(folder, t.dtype ?? 'auto', provider === 'cuda');
  const enc = await models.EncoderModel.load(join(t.dir, picked.file), { provider, batchSize: 16 });
  const len = Math.min(promptTokens, 512);
  const rows = Array.from({ length: 64 }, (_, r) => {
    const row = {};
    for (const name of enc.inputNames) row[name] = Array.from({ length: len }, (_, i) => (name.includes('mask') ? 1 : name.includes('position') ? i : (r * 31 + i * 7) % 1000));
    return row;
  });
  await enc.runBatch(rows.slice(0, 2));
  const t0 = performance.now();
  await enc.runBatch(rows);
  const ms = performance.now() - t0;
  const tps = Math.round((rows.length * len * 1000) / ms);
  await enc.release();
  return { ...base, kind: 'encoder', provider: enc.provider, file: picked.file, tokensPerSec: tps, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), summary: `${tps} tok/s (64 rows x ${len} tokens, batch 16)` };
}
