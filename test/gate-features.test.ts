import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GATE_FEATURES, gateFeatures, gateQuery } from '../src/core/gate/features.js';
import { openGate } from '../src/core/gate/index.js';

interface Parity {
  features: string[];
  cases: Array<{ question: string; memory: string; path: string; text: string; rank: number; features: number[] }>;
}

const ROOT = resolve(__dirname, '..');
const SHIPPED = join(ROOT, 'models', 'engram-gate-0.1.0');

test('the engine computes the gate features exactly like the Python training side', () => {
  const parity = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'gate-features.json'), 'utf8')) as Parity;
  assert.deepEqual(parity.features, [...GATE_FEATURES]);
  assert.ok(parity.cases.length >= 5);
  for (const c of parity.cases) {
    const got = gateFeatures(gateQuery(c.question, c.memory), c.path, c.text, c.rank);
    assert.equal(got.length, c.features.length);
    got.forEach((v, i) => assert.ok(Math.abs(v - c.features[i]!) < 1e-9, `${c.path} ${GATE_FEATURES[i]}: ${v} vs ${c.features[i]}`));
  }
});

test('the shipped feature gate is the default gate and ranks the defining block first', async () => {
  const gate = await openGate(undefined, { onWarning: (m) => assert.fail(m) });
  assert.ok(gate, 'models/ ships a gate');
  try {
    assert.equal(gate.id, 'gate:engram-gate-0.1.0');
    assert.ok(gate.threshold > 0 && gate.threshold < 1);
    const question = 'What is the value of the constant `RETRY_DELAY`?';
    const blocks = [
      { path: 'CHANGELOG.md', startLine: 1, endLine: 3, text: '## 2.0\n* RETRY_DELAY is 30 s now', rank: 0 },
      { path: 'src/net/fetch.ts', startLine: 10, endLine: 14, text: 'await sleep(RETRY_DELAY);\nreturn fetch(url);', rank: 1 },
      { path: 'src/net/retry.ts', startLine: 1, endLine: 2, text: 'export const RETRY_DELAY = 30_000;\nexport const RETRIES = 3;', rank: 2 },
      { path: 'src/ui/button.ts', startLine: 1, endLine: 1, text: 'export function button() {}', rank: 3 },
    ];
    const scores = await gate.score(question, '', blocks);
    assert.equal(scores.length, blocks.length);
    const best = scores.indexOf(Math.max(...scores));
    assert.equal(blocks[best]!.path, 'src/net/retry.ts', `scores ${scores.join(', ')}`);
    assert.ok(scores[3]! < gate.threshold, 'an unrelated block stays below the threshold');
    assert.deepEqual(await gate.score(question, '', []), []);
  } finally {
    await gate.close();
  }
});

test('a feature gate of another feature set or with a corrupt graph falls back to recall ranking, with a warning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-fgate-'));
  try {
    const model = join(dir, 'g');
    cpSync(SHIPPED, model, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(model, 'config.json'), JSON.stringify({ ...cfg, features: ['recall_rank', 'something_new'] }));
    const warnings: string[] = [];
    assert.equal(await openGate(model, { onWarning: (m) => warnings.push(m) }), null);
    assert.match(warnings[0] ?? '', /reads features \[recall_rank, something_new\].*ranking by recall instead/);

    writeFileSync(join(model, 'config.json'), JSON.stringify(cfg));
    writeFileSync(join(model, 'onnx', 'model.onnx'), 'not a graph');
    assert.equal(await openGate(model, { onWarning: (m) => warnings.push(m) }), null);
    assert.match(warnings[1] ?? '', /cannot load ONNX model .*ranking by recall instead/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
