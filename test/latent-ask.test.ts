import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { Engine } from '../src/core/engine.js';
import { LatentMemoryReasoner, openReasoner, type Reasoner } from '../src/core/reason/index.js';
import { LatentReasoner } from '../src/core/models/latent.js';
import { tempRepo, writeFiles } from './support/repo.js';

const FIXTURE = join(__dirname, 'fixtures', 'tiny-beacon');
const FILES = {
  'src/add.py': 'def add(a, b):\n    return a + b\n',
  'src/sub.py': 'def sub(a, b):\n    return a - b\n',
};

let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
let reasoner: Reasoner;
let direct: LatentReasoner;
let repo: string;

before(async () => {
  tmp = tempRepo();
  repo = join(tmp.dir, 'repo');
  writeFiles(repo, FILES);
  engine = await Engine.open({ repo, store: join(tmp.dir, 'store') });
  await engine.index();
  reasoner = await openReasoner({ backend: 'onnx', model: FIXTURE, provider: 'cpu', threads: 1 });
  direct = await LatentReasoner.load(FIXTURE, { provider: 'cpu', threads: 1 });
});

after(async () => {
  await reasoner.close();
  await direct.release();
  await engine.close();
  tmp.cleanup();
});

test('a model folder with beacon.json opens as the latent-memory reasoner', () => {
  assert.ok(reasoner instanceof LatentMemoryReasoner);
  assert.match(reasoner.id, /^latent:tiny-beacon-/);
  assert.equal(reasoner.reads, 'raw');
});

test('ask reads every block into the latent prefix and answers from those states', async () => {
  const r = await engine.ask('which function?', { mode: 'memagent', reasoner });
  const reads = r.steps.filter((e) => e.type === 'read');
  assert.equal(reads.length, 2);
  assert.equal(r.stats.blocksRead, 2);
  // The same answer, computed directly from the blocks' states in reading order.
  const states = [];
  for (const e of reads) {
    const lines = readFileSync(join(repo, e.path!), 'utf8').split('\n').slice(e.startLine! - 1, e.endLine);
    states.push(await direct.statesOfIds(direct.tokenizer.encode(`${e.path}\n${lines.join('\n')}`, false)));
  }
  const want = (await direct.answer('which function?', states)).text.trim();
  assert.ok(want.length > 0);
  assert.ok(r.answer.endsWith(want), `${r.answer} vs ${want}`);
  if (r.confidence === 'answer') {
    assert.equal(r.answer, want);
    assert.equal(r.citations.length, 1);
  } else {
    assert.equal(r.confidence, 'evidence');
    assert.match(r.answer, /^Not sure/);
  }
  for (const c of r.citations) assert.ok(Object.keys(FILES).includes(c.path));
});

test('with a cache folder, the states of the blocks read are kept on disk for the next session', async () => {
  const cacheDir = join(tmp.dir, 'store', 'latent');
  const kept = await openReasoner({ backend: 'onnx', model: FIXTURE, provider: 'cpu', threads: 1 }, { cacheDir });
  try {
    const r = await engine.ask('which function?', { mode: 'memagent', reasoner: kept });
    assert.equal(r.stats.blocksRead, 2);
  } finally {
    await kept.close();
  }
  const files = readdirSync(cacheDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.bin'));
  assert.equal(files.length, 2, files.join(', '));
  // A later session answers the same from the files.
  const again = await openReasoner({ backend: 'onnx', model: FIXTURE, provider: 'cpu', threads: 1 }, { cacheDir });
  try {
    const first = await engine.ask('which function?', { mode: 'memagent', reasoner });
    const second = await engine.ask('which function?', { mode: 'memagent', reasoner: again });
    assert.equal(second.answer, first.answer);
  } finally {
    await again.close();
  }
});
