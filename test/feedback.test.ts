import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { exportFeedback, FeedbackStore, parseFeedbackInput, toTrainingRows, type FeedbackInput } from '../src/core/feedback/index.js';
import { ExportFeedbackRequest, FeedbackRequest, IndexRequest, InspectRequest, RpcErrorCode, SearchRequest } from '../src/core/protocol.js';
import { UserError } from '../src/core/types.js';
import { CLI, engram, sampleFiles, tempRepo, writeFiles } from './support/repo.js';

const PYTHON = resolve(__dirname, '..', 'training', '.venv', 'bin', 'python');

function sample(over: Partial<FeedbackInput> = {}): FeedbackInput {
  return {
    question: 'Where is the retry delay configured?',
    answer: 'In src/net/config.ts:2.',
    citations: [{ path: 'src/net/config.ts', startLine: 2, endLine: 2 }],
    trace: [
      { type: 'gate', step: 1, ms: 3 },
      { type: 'memory', step: 2, memory: 'nothing yet', ms: 1 },
      { type: 'read', step: 3, blockId: 'b1', path: 'src/net/config.ts', startLine: 1, endLine: 3, ms: 4 },
      { type: 'memory', step: 4, memory: 'RETRY_BASE_MS = 250', ms: 1 },
      { type: 'answer', step: 5, text: 'In src/net/config.ts:2.', ms: 2 },
    ],
    ...over,
  };
}

test('parseFeedbackInput keeps valid fields and names the first bad one', () => {
  const ok = parseFeedbackInput({ ...sample(), verdict: 'up', extra: 'dropped' });
  assert.equal(ok.verdict, 'up');
  assert.equal((ok as unknown as Record<string, unknown>).extra, undefined);
  const bad: [unknown, RegExp][] = [
    [null, /must be an object/],
    [{ ...sample(), question: ' ' }, /question is empty/],
    [{ ...sample(), verdict: 'sideways' }, /verdict/],
    [{ ...sample(), verdict: 'up', citations: [{ path: 'a', startLine: 5, endLine: 2 }] }, /endLine is before/],
    [{ ...sample(), verdict: 'up', trace: [{ type: 'think', step: 1, ms: 1 }] }, /trace\[0\]\.type/],
    [{ ...sample(), blocks: [{ path: 'a', startLine: 1, endLine: 2 }] }, /relevant/],
    [sample(), /needs a verdict/],
  ];
  for (const [value, message] of bad) assert.throws(() => parseFeedbackInput(value), (e: unknown) => e instanceof UserError && message.test(e.message));
});

test('records become KTO, DPO and gate rows; the gate row carries the memory before the read', () => {
  const records = [
    { ...sample(), verdict: 'up' as const, id: '1', repo: '/r', models: {}, timestamp: 't' },
    {
      ...sample(),
      verdict: 'down' as const,
      correctedAnswer: 'In RETRY_BASE_MS (src/net/config.ts:2), doubled by backoff().',
      blocks: [
        { blockId: 'b1', path: 'src/net/config.ts', startLine: 1, endLine: 3, relevant: true, text: 'RETRY_BASE_MS = 250' },
        { path: 'README.md', startLine: 1, endLine: 3, relevant: false },
      ],
      id: '2',
      repo: '/r',
      models: {},
      timestamp: 't',
    },
  ];
  const rows = toTrainingRows(records);
  assert.deepEqual(rows.kto.map((r) => r.label), [true, false, true]);
  assert.deepEqual(rows.dpo, [{ prompt: records[1]!.question, chosen: records[1]!.correctedAnswer, rejected: records[1]!.answer }]);
  assert.deepEqual(rows.gate.map((g) => [g.path, g.label, g.memory, g.block]), [
    ['src/net/config.ts', 1, 'nothing yet', 'RETRY_BASE_MS = 250'],
    ['README.md', 0, 'RETRY_BASE_MS = 250', ''],
  ]);
});

test('the store appends records, skips a torn line, and the export loads in datasets as is', async () => {
  const { dir, cleanup } = tempRepo();
  try {
    const store = new FeedbackStore(join(dir, 'fb', 'feedback.jsonl'));
    await store.append({ ...sample(), verdict: 'up' }, { repo: '/r', models: { compressor: 'c@1' } });
    await store.append({ ...sample(), verdict: 'down', correctedAnswer: 'RETRY_BASE_MS in config.ts' }, { repo: '/r', models: {} });
    appendFileSync(store.file, '{"question": "torn');
    const { records, skipped } = await store.readAll();
    assert.equal(records.length, 2);
    assert.equal(skipped, 1);
    assert.equal(records[0]?.models.compressor, 'c@1');
    assert.match(records[0]?.timestamp ?? '', /^\d{4}-\d\d-\d\dT/);

    // The CLI exports the same file.
    const out = join(dir, 'out');
    const r = engram(['export-feedback', out, '--feedback', store.file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { files: { name: string; rows: number }[]; skipped: number };
    assert.deepEqual(report.files.map((f) => [f.name, f.rows]), [['kto', 3], ['dpo', 1]]);
    assert.equal(report.skipped, 1);
    assert.equal(existsSync(join(out, 'gate.jsonl')), false, 'no empty file for a format without rows');

    const load = spawnSync(
      PYTHON,
      ['-c', `import datasets,sys\nfor n in ('kto','dpo'):\n  d=datasets.load_dataset('json',data_files=sys.argv[1]+'/'+n+'.jsonl',split='train')\n  print(n,len(d),sorted(d.column_names),d.features.get('label'))`, out],
      { encoding: 'utf8', env: { ...process.env, HF_DATASETS_OFFLINE: '1', HF_DATASETS_CACHE: join(dir, 'hf') } },
    );
    assert.equal(load.status, 0, load.stderr);
    assert.match(load.stdout, /kto 3 \['completion', 'label', 'prompt'\] Value\('bool'\)/);
    assert.match(load.stdout, /dpo 1 \['chosen', 'prompt', 'rejected'\]/);

    const none = engram(['export-feedback', out, '--feedback', join(dir, 'missing.jsonl')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no feedback/);
  } finally {
    cleanup();
  }
});

test('serve --stdio stores feedback with block text from the store and exports it', async () => {
  const { dir, cleanup } = tempRepo();
  const repo = join(dir, 'repo');
  writeFiles(repo, sampleFiles());
  const file = join(dir, 'feedback.jsonl');
  const server = spawn(process.execPath, [CLI, 'serve', '--stdio', '--repo', repo, '--store', join(dir, 'store'), '--feedback', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  const rpc = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  rpc.listen();
  try {
    await rpc.sendRequest(IndexRequest, {});
    const { results } = await rpc.sendRequest(SearchRequest, { query: 'RETRY_BASE_MS', k: 1 });
    const hit = results[0]!;
    const saved = await rpc.sendRequest(FeedbackRequest, {
      ...sample(),
      verdict: 'down',
      blocks: [{ blockId: hit.blockId, path: hit.path, startLine: hit.startLine, endLine: hit.endLine, relevant: true }],
      models: { reasoner: 'openai:qwen@http://127.0.0.1:1/v1', compressor: 'client cannot override' },
    });
    assert.equal(saved.file, file);
    const record = JSON.parse(readFileSync(file, 'utf8').trim()) as { id: string; repo: string; models: Record<string, string>; blocks: { text?: string }[] };
    assert.equal(record.id, saved.id);
    assert.equal(record.repo, repo);
    assert.ok(record.models.compressor && record.models.compressor !== 'client cannot override');
    assert.equal(record.models.reasoner, 'openai:qwen@http://127.0.0.1:1/v1');
    // The block's text form as the store holds it (whichever compressor made it), not the client's.
    const stored = await rpc.sendRequest(InspectRequest, { target: hit.blockId });
    assert.ok(stored.compressed.length > 0);
    assert.equal(record.blocks[0]?.text, stored.compressed);
    await assert.rejects(rpc.sendRequest(FeedbackRequest, { question: 'q' } as FeedbackInput), (e: unknown) => e instanceof ResponseError && e.code === RpcErrorCode.UserError);
    const report = await rpc.sendRequest(ExportFeedbackRequest, { out: join(dir, 'export') });
    assert.deepEqual(report.files.map((f) => f.name), ['kto', 'gate']);
  } finally {
    rpc.dispose();
    server.stdin.end();
    await new Promise((r) => server.once('exit', r));
    cleanup();
  }
});

test('exportFeedback removes a stale file when a format has no rows any more', async () => {
  const { dir, cleanup } = tempRepo();
  try {
    const base = { id: '1', repo: '/r', models: {}, timestamp: 't' };
    await exportFeedback([{ ...sample(), verdict: 'down', correctedAnswer: 'other', ...base }], dir);
    assert.ok(existsSync(join(dir, 'dpo.jsonl')));
    await exportFeedback([{ ...sample(), verdict: 'up', ...base }], dir);
    assert.equal(existsSync(join(dir, 'dpo.jsonl')), false);
  } finally {
    cleanup();
  }
});

test('a later record for the same question replaces the earlier one', async () => {
  const { dir, cleanup } = tempRepo();
  try {
    const store = new FeedbackStore(join(dir, 'feedback.jsonl'));
    await store.append({ ...sample(), askId: 'a1', verdict: 'down' }, { repo: '/r', models: {} });
    await store.append({ ...sample(), askId: 'a2', verdict: 'up' }, { repo: '/r', models: {} });
    await store.append({ ...sample(), askId: 'a1', verdict: 'up', blocks: [{ path: 'a.ts', startLine: 1, endLine: 2, relevant: true }] }, { repo: '/r', models: {} });
    const { records } = await store.readAll();
    assert.deepEqual(records.map((r) => [r.askId, r.verdict, r.blocks?.length ?? 0]), [['a2', 'up', 0], ['a1', 'up', 1]]);
  } finally {
    cleanup();
  }
});
