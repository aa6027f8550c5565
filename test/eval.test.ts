import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter, CancellationTokenSource } from 'vscode-jsonrpc/node';
import { AskRequest, RpcErrorCode, TraceNotification } from '../src/core/protocol.js';
import type { AskResult, TraceEvent } from '../src/core/types.js';
import { isNotFound, normalizeAnswer, scoreAnswer } from '../src/core/ask/index.js';
import { CLI, engram, tempRepo, writeFiles } from './support/repo.js';
import { engramAsync } from './fixtures/ask/cli.js';
import { scriptedServer, type ScriptedServer } from './fixtures/ask/server.js';
import { twoHopFiles, TWO_HOP_QUESTION } from './fixtures/ask/repos.js';

const SCRIPT = {
  rules: [
    { code: 'function startServer', note: 'startServer listens on resolvePort() (src/server/start.ts:5)' },
    { code: 'function resolvePort', note: 'resolvePort falls back to DEFAULT_PORT = 8080 (src/config/port.ts:1-3)', found: true },
  ],
  answer: { when: '8080', reply: 'ANSWER: `8080`.\nCITATIONS: src/config/port.ts:1-3, src/elsewhere.ts:1' },
};

let tmp: { dir: string; cleanup: () => void };
let repo: string;
let store: string;
let server: ScriptedServer;

before(async () => {
  tmp = tempRepo();
  repo = join(tmp.dir, 'repo');
  store = join(tmp.dir, 'store');
  writeFiles(repo, twoHopFiles());
  assert.equal(engram(['index', '--repo', repo, '--store', store]).code, 0);
  server = await scriptedServer(SCRIPT);
});

after(async () => {
  await server.close();
  tmp.cleanup();
});

const reasonerArgs = (): string[] => ['--repo', repo, '--store', store, '--server', server.url, '--server-model', 'scripted'];

test('answers are normalized before matching; containment credits names inside a longer answer', () => {
  assert.equal(normalizeAnswer(' `8080`. '), '8080');
  assert.deepEqual(scoreAnswer('"resolvePort"', 'resolvePort'), { exact: true, contains: true });
  assert.deepEqual(scoreAnswer('it is in src/config/port.ts', 'src/config/port.ts'), { exact: false, contains: true });
  assert.deepEqual(scoreAnswer('not found', '8080'), { exact: false, contains: false });
});

test('engram ask --json prints DESIGN.md\'s object; the plain form prints the answer and its lines', async () => {
  const r = await engramAsync(['ask', '--json', ...reasonerArgs(), TWO_HOP_QUESTION]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as AskResult;
  assert.equal(out.answer, '`8080`.');
  assert.equal(out.confidence, 'answer');
  assert.deepEqual(out.citations, [{ path: 'src/config/port.ts', startLine: 1, endLine: 3 }]);
  for (const k of ['blocksTotal', 'blocksRead', 'tokensRead', 'ms', 'peakRssMb'] as const) assert.equal(typeof out.stats[k], 'number');
  assert.ok(out.steps.every((s) => ['gate', 'read', 'memory', 'answer', 'error'].includes(s.type) && typeof s.step === 'number' && typeof s.ms === 'number'));
  const plain = await engramAsync(['ask', ...reasonerArgs(), '--mode', 'memagent', TWO_HOP_QUESTION]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^`8080`\.\n\n {2}src\/config\/port\.ts:1-3\n$/);
  assert.match(plain.stderr, /memagent read 6\/6 blocks .*1 citation\(s\) outside the lines read were dropped/);
  // A uses question lists every use found by the code's shape, whatever the reasoner answers.
  const uses = await engramAsync(['ask', ...reasonerArgs(), 'who calls resolvePort?']);
  assert.equal(uses.code, 0, uses.stderr);
  assert.match(uses.stdout, /\nAll 1 uses found, in 1 file:\n {2}src\/server\/start\.ts:5: return listen\(resolvePort\(\)\);\n$/);
});

test('engram ask rejects bad input with exit code 1 and a clear message', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['ask', ...reasonerArgs(), '  '], /usage: engram ask/],
    [['ask', ...reasonerArgs(), 'q'.repeat(100 * 1024)], /the question is 100 KB; the limit is 16 KB/],
    [['ask', ...reasonerArgs(), '--mode', 'fast', 'q?'], /--mode must be one of gated, memagent, full, rag/],
    [['ask', '--repo', repo, '--store', store, '--backend', 'openai', 'q?'], /needs --server URL/],
    [['ask', '--repo', repo, '--store', store, '--model', join(tmp.dir, 'nope'), 'q?'], /no installed model/],
    [['ask', ...reasonerArgs(), '--min-blocks', '3', '--max-blocks', '2', 'q?'], /--min-blocks cannot exceed --max-blocks/],
  ];
  for (const [args, message] of cases) {
    const r = await engramAsync(args);
    assert.equal(r.code, 1, `${args.slice(-1)}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  // A minimum above the default maximum raises the maximum with it.
  const many = await engramAsync(['ask', '--json', ...reasonerArgs(), '--min-blocks', '10', '--threshold', '1', TWO_HOP_QUESTION]);
  assert.equal(many.code, 0, many.stderr);
});

test('engram eval scores accuracy, citations, gate recall@k, latency and memory', async () => {
  const qa = join(tmp.dir, 'qa.jsonl');
  writeFileSync(
    qa,
    [
      { id: 'port', question: TWO_HOP_QUESTION, answer: '8080', evidence: [{ path: 'src/config/port.ts', startLine: 1, endLine: 1 }] },
      { id: 'pool', question: 'What is `POOL_SIZE`?', answer: '16', evidence: [{ path: 'src/db/pool.ts', startLine: 1, endLine: 1 }] },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n') + '\n',
  );
  const r = await engramAsync(['eval', '--json', '--qa', qa, '--k', '2', '--mode', 'memagent', ...reasonerArgs()]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Record<string, unknown> & { perQuestion: Array<{ id: string; exact: boolean; citations: unknown[] }> };
  assert.equal(report.questions, 2);
  assert.equal(report.accuracy, 0.5);
  // memagent reads everything: the pool question's notes pick up 8080 too, and it cites port.ts, off its evidence.
  assert.equal(report.citationPrecision, 0.5);
  assert.equal(report.citationRecall, 0.5);
  // POOL_SIZE's block is in the first round's top 2; the second hop only comes with the memory.
  assert.equal(report.gateRecallAtK, 0.5);
  // Both answers are confident; only the port question's citations touch its evidence.
  assert.equal(report.confidentRate, 1);
  assert.equal(report.evidenceHitRate, 0.5);
  // The evidence lines are constants, which the compressor keeps whole; it drops body statements.
  assert.equal(report.evidenceKept, 1);
  assert.ok((report.blockWordsKept as number) > 0 && (report.blockWordsKept as number) < 1, String(report.blockWordsKept));
  for (const k of ['msPerQuestion', 'peakRssMb', 'readyRssMb'] as const) assert.ok(typeof report[k] === 'number' && (report[k] as number) > 0);
  // The peak is the process's whole life: it holds the engine at rest.
  assert.ok((report.peakRssMb as number) >= (report.readyRssMb as number), `${report.peakRssMb} < ${report.readyRssMb}`);
  assert.deepEqual(report.perQuestion.map((q) => [q.id, q.exact]), [['port', true], ['pool', false]]);

  const human = await engramAsync(['eval', '--qa', qa, ...reasonerArgs()]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /accuracy \(exact\)\s+50\.0%/);
  // Without a gate model, gated reads on until the reasoner has an answer: the pool question's notes pick up 8080 too.
  assert.match(human.stdout, /confident answers\s+100\.0%/);
  assert.match(human.stdout, /evidence hit\s+50\.0%/);
  assert.match(human.stdout, /evidence kept\s+100\.0% of the evidence's words/);

  writeFileSync(join(tmp.dir, 'bad.jsonl'), '{"question": "q"}\n');
  const bad = await engramAsync(['eval', '--qa', join(tmp.dir, 'bad.jsonl'), ...reasonerArgs()]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad\.jsonl:1: needs string fields question and answer/);
});

test('an unanswerable question is right when the engine states no answer, wrong when it states one', async () => {
  const qa = join(tmp.dir, 'qa-none.jsonl');
  writeFileSync(
    qa,
    [
      { id: 'ghost', question: 'What is the value of `GHOST_LIMIT`?', answer: 'not found' },
      { id: 'port', question: TWO_HOP_QUESTION, answer: 'Not found.' },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n') + '\n',
  );
  // At most two blocks a question: the ghost's notes stay without 8080, so the scripted reasoner says "not found".
  const r = await engramAsync(['eval', '--json', '--qa', qa, '--max-blocks', '2', ...reasonerArgs()]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { perQuestion: Array<{ id: string; answer: string; confidence: string; exact: boolean; contains: boolean }> };
  const [ghost, port] = report.perQuestion;
  assert.equal(ghost?.confidence, 'none', ghost?.answer);
  assert.deepEqual([ghost?.exact, ghost?.contains], [true, true]);
  assert.equal(port?.confidence, 'answer');
  assert.deepEqual([port?.exact, port?.contains], [false, false]);
  assert.ok(isNotFound(' `Not found`. ') && !isNotFound('not found here'));
});

test('serve answers ask over JSON-RPC, streams trace notifications and can be cancelled', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--stdio', ...reasonerArgs()], { stdio: ['pipe', 'pipe', 'pipe'] });
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const trace: Array<{ askId: string; event: TraceEvent }> = [];
  rpc.onNotification(TraceNotification, (n) => trace.push(n));
  rpc.listen();
  try {
    const result = await rpc.sendRequest(AskRequest, { question: TWO_HOP_QUESTION, askId: 'q1' });
    assert.equal(result.answer, '`8080`.');
    assert.ok(trace.length > 0 && trace.every((n) => n.askId === 'q1'));
    assert.deepEqual(trace.map((n) => n.event.type).at(-1), 'answer');
    assert.equal(trace.length, result.steps.length, 'every step was streamed');

    await assert.rejects(rpc.sendRequest(AskRequest, { question: '' }), (e: unknown) => e instanceof ResponseError && e.code === RpcErrorCode.UserError);

    const source = new CancellationTokenSource();
    const sub = rpc.onNotification(TraceNotification, (n) => n.askId === 'q2' && source.cancel());
    await assert.rejects(rpc.sendRequest(AskRequest, { question: TWO_HOP_QUESTION, askId: 'q2', mode: 'memagent' }, source.token), (e: unknown) => e instanceof ResponseError);
    sub.dispose();
    // The server keeps answering after a cancelled question.
    const again = await rpc.sendRequest(AskRequest, { question: TWO_HOP_QUESTION, askId: 'q3', mode: 'rag' });
    assert.equal(typeof again.answer, 'string');
  } finally {
    rpc.dispose();
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
  }
});
