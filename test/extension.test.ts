// The extension's logic that needs no editor: the webview message protocol and its
// validation, the webview shell's CSP, settings -> engine launch, the view models, and
// the engine client against the real `engram serve --stdio` (restart after a crash).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StatusRequest } from '../src/core/protocol.js';
import { EngineClient, type ClientState } from '../src/extension/engine-client.js';
import { gateWhy } from '../src/extension/gate-why.js';
import { makeNonce, webviewHtml } from '../src/extension/html.js';
import { readSettings, reasonerLabel, serverLaunch } from '../src/extension/settings.js';
import { parseInspectorMessage, parseSidebarMessage } from '../src/extension/webview-protocol.js';
import type { TraceEvent } from '../src/core/types.js';
import { citationLabel, linkCitations } from '../webview/model/answer.js';
import { keptSegments, ratio } from '../webview/model/kept.js';
import { browseHistory, initialState, reduce, remember, restoreState } from '../webview/model/sidebar-state.js';
import { diffWords, timeline } from '../webview/model/timeline.js';
import { CLI, sampleFiles, tempRepo, writeFiles } from './support/repo.js';

const ROOT = resolve(__dirname, '..');

test('sidebar messages: well-formed ones pass with extra fields dropped; the rest are rejected', () => {
  assert.deepEqual(parseSidebarMessage({ type: 'ask', question: '  where?  ', evil: 1 }), { type: 'ask', question: 'where?' });
  assert.deepEqual(parseSidebarMessage({ type: 'openRange', range: { path: 'src/a.ts', startLine: 2, endLine: 4 } }), { type: 'openRange', range: { path: 'src/a.ts', startLine: 2, endLine: 4 } });
  assert.deepEqual(parseSidebarMessage({ type: 'command', command: 'index' }), { type: 'command', command: 'index' });
  assert.deepEqual(parseSidebarMessage({ type: 'feedback', askId: 'a1', verdict: 'up', blocks: [{ path: 'a.ts', startLine: 1, endLine: 2, relevant: false, blockId: 'b' }] }), {
    type: 'feedback',
    askId: 'a1',
    verdict: 'up',
    blocks: [{ path: 'a.ts', startLine: 1, endLine: 2, relevant: false, blockId: 'b' }],
  });
  const bad: unknown[] = [
    null,
    'ask',
    { type: 'nope' },
    { type: 'ask', question: '   ' },
    { type: 'ask', question: 42 },
    { type: 'openRange', range: { path: '../etc/passwd', startLine: 1, endLine: 1 } },
    { type: 'openRange', range: { path: '/etc/passwd', startLine: 1, endLine: 1 } },
    { type: 'openRange', range: { path: 'C:/x', startLine: 1, endLine: 1 } },
    { type: 'openRange', range: { path: 'a.ts', startLine: 5, endLine: 2 } },
    { type: 'openRange', range: { path: 'a.ts', startLine: 0, endLine: 2 } },
    { type: 'command', command: 'workbench.action.terminal.new' },
    { type: 'feedback', askId: 'a1' },
    { type: 'feedback', askId: 'a1', verdict: 'meh' },
    { type: 'feedback', verdict: 'up' },
    { type: 'feedback', askId: 'a1', blocks: [{ path: 'a.ts', startLine: 1, endLine: 2 }] },
    { type: 'inspectBlock', blockId: 'x'.repeat(500) },
  ];
  for (const m of bad) assert.equal(parseSidebarMessage(m), null, JSON.stringify(m));
});

test('inspector messages are validated the same way', () => {
  assert.deepEqual(parseInspectorMessage({ type: 'fileBlocks', path: 'src/a.ts' }), { type: 'fileBlocks', path: 'src/a.ts' });
  assert.deepEqual(parseInspectorMessage({ type: 'pin', blockId: 'b1', label: 'a.ts:1-3' }), { type: 'pin', blockId: 'b1', label: 'a.ts:1-3' });
  assert.deepEqual(parseInspectorMessage({ type: 'listFiles', filter: '' }), { type: 'listFiles', filter: '' });
  for (const m of [{ type: 'fileBlocks', path: '../../x' }, { type: 'search', query: '' }, { type: 'pin', blockId: 'b1' }, { type: 'exclude' }, { type: 'eval', code: '1' }]) {
    assert.equal(parseInspectorMessage(m), null, JSON.stringify(m));
  }
});

test('the webview shell has a strict CSP with a fresh nonce and no inline handlers', () => {
  const nonce = makeNonce();
  assert.notEqual(nonce, makeNonce());
  const html = webviewHtml({ cspSource: 'vscode-resource:', nonce, title: 'T"<', scriptUri: 'vscode-resource:/dist/webview/sidebar.js', styleUris: ['vscode-resource:/c.css', 'vscode-resource:/s.css'], view: 'sidebar' });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal([...html.matchAll(/<script /g)].length, 1);
  assert.match(html, new RegExp(`<script nonce="${nonce}" src="vscode-resource:/dist/webview/sidebar.js">`));
  assert.doesNotMatch(html, /\son[a-z]+=/i);
  assert.match(html, /id="vscode-codicon-stylesheet"/);
  assert.match(html, /<title>T&quot;&lt;<\/title>/);
});

test('settings become the engine command line; paths and URLs only from machine scope', () => {
  const defaults = readSettings(() => undefined);
  assert.equal(defaults.reasonerBackend, 'builtin');
  assert.equal(defaults.feedbackEnabled, true);
  assert.equal(defaults.threshold, null);
  const paths = { execPath: '/usr/bin/code', cli: '/ext/bin/engram.js', repo: '/ws', defaultStore: '/st', feedbackFile: '/g/feedback.jsonl' };
  const plain = serverLaunch(defaults, paths, { PATH: '/bin' });
  assert.equal(plain.command, '/usr/bin/code');
  assert.deepEqual(plain.args.slice(0, 9), ['/ext/bin/engram.js', 'serve', '--stdio', '--repo', '/ws', '--store', '/st', '--feedback', '/g/feedback.jsonl']);
  assert.equal(plain.env.ELECTRON_RUN_AS_NODE, '1');
  assert.ok(!plain.args.includes('--backend'));

  const values: Record<string, unknown> = {
    'reasoner.backend': 'openai',
    'reasoner.url': 'http://10.0.0.5:8000/v1',
    'reasoner.model': 'qwen',
    'reasoner.allowRemote': true,
    'gate.topK': 1000,
    'gate.threshold': 0.4,
    'memory.budget': 2048,
    'index.excludes': ['vendor/', 7, ''],
    'storage.location': '/big/store',
  };
  const s = readSettings((k) => values[k]);
  assert.equal(s.topK, 256, 'clamped');
  assert.deepEqual(s.excludes, ['vendor/']);
  const l = serverLaunch(s, paths, {});
  const arg = (flag: string) => l.args[l.args.indexOf(flag) + 1];
  assert.equal(arg('--store'), '/big/store');
  assert.equal(arg('--server'), 'http://10.0.0.5:8000/v1');
  assert.equal(arg('--server-model'), 'qwen');
  assert.equal(arg('--max-blocks'), '256');
  assert.equal(arg('--threshold'), '0.4');
  assert.equal(arg('--memory-tokens'), '2048');
  assert.equal(arg('--exclude'), 'vendor/');
  assert.ok(l.args.includes('--allow-remote'));
  assert.equal(reasonerLabel(s), 'openai:qwen@http://10.0.0.5:8000/v1');
  assert.equal(reasonerLabel(defaults, { ENGRAM_REASONER: '/m/qwen' }), 'onnx:/m/qwen');
  assert.equal(reasonerLabel(defaults), 'builtin');

  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    activationEvents: string[];
    engines: { vscode: string };
    contributes: { configuration: { properties: Record<string, { scope?: string }> }; commands: { command: string }[] };
  };
  assert.ok(!pkg.activationEvents.includes('*'));
  assert.match(pkg.engines.vscode, /^\^1\.(100|\d{1,2})\./);
  const props = pkg.contributes.configuration.properties;
  for (const key of ['engram.reasoner.backend', 'engram.reasoner.onnxPath', 'engram.reasoner.url', 'engram.reasoner.model', 'engram.reasoner.allowRemote', 'engram.device', 'engram.storage.location', 'engram.feedback.enabled']) {
    assert.equal(props[key]?.scope, 'machine', key);
  }
  const names = pkg.contributes.commands.map((c) => c.command);
  for (const c of ['ask', 'askAboutSelection', 'indexWorkspace', 'rebuildIndex', 'pauseIndexing', 'showInspector', 'exportFeedback', 'selectReasoner', 'downloadModel', 'openSettings']) assert.ok(names.includes(`engram.${c}`), c);
});

const TRACE: TraceEvent[] = [
  { type: 'gate', step: 1, blockId: 'b1', path: 'src/a.ts', startLine: 1, endLine: 9, score: 0.93, text: 'kept', ms: 2 },
  { type: 'gate', step: 1, blockId: 'b2', path: 'src/b.ts', startLine: 1, endLine: 5, score: 0.2, text: 'dropped', ms: 1 },
  { type: 'read', step: 2, blockId: 'b1', path: 'src/a.ts', startLine: 1, endLine: 9, score: 0.93, tokens: 40, ms: 5 },
  { type: 'memory', step: 2, memory: 'RETRY_BASE_MS = 250', tokens: 6, text: 'continue', ms: 1 },
  { type: 'gate', step: 3, blockId: 'b3', path: 'src/c.ts', startLine: 4, endLine: 8, score: 0.7, ms: 1 },
  { type: 'read', step: 4, blockId: 'b3', path: 'src/c.ts', startLine: 4, endLine: 8, tokens: 30, ms: 5 },
  { type: 'memory', step: 4, memory: 'RETRY_BASE_MS = 250, doubled by backoff', ms: 1 },
  { type: 'answer', step: 5, text: 'It is ', ms: 1 },
  { type: 'answer', step: 5, text: 'It is 250 ms (src/a.ts:2).', tokens: 9, ms: 1 },
];

test('the trace becomes a timeline: gate rounds with kept/dropped, reads with their memory diff, one answer', () => {
  const t = timeline(TRACE);
  assert.deepEqual(t.map((e) => e.kind), ['gate', 'read', 'gate', 'read', 'answer']);
  const g = t[0]!;
  assert.ok(g.kind === 'gate' && g.kept === 1 && g.candidates.length === 2 && g.candidates[1]!.kept === false && g.round === 1);
  const g2 = t[2]!;
  assert.ok(g2.kind === 'gate' && g2.round === 2 && g2.candidates[0]!.kept, 'no text: kept because it was read');
  const r = t[3]!;
  assert.ok(r.kind === 'read' && r.memory);
  assert.equal(r.memory.before, 'RETRY_BASE_MS = 250');
  assert.deepEqual(r.memory.diff, [
    { op: 'same', text: 'RETRY_BASE_MS = ' },
    { op: 'del', text: '250' },
    { op: 'add', text: '250, doubled by backoff' },
  ]);
  assert.ok(r.memory.diff.some((p) => p.op === 'add' && /doubled by backoff/.test(p.text)));
  const a = t[4]!;
  assert.ok(a.kind === 'answer' && a.text === 'It is 250 ms (src/a.ts:2).' && a.tokens === 9);
  assert.deepEqual(diffWords('a b c', 'a x c'), [{ op: 'same', text: 'a ' }, { op: 'del', text: 'b' }, { op: 'add', text: 'x' }, { op: 'same', text: ' c' }]);
  assert.deepEqual(diffWords('', 'new'), [{ op: 'add', text: 'new' }]);

  const why = gateWhy('q?', TRACE);
  assert.deepEqual(why.decisions.map((d) => [d.blockId, d.kept, d.round]), [['b1', true, 1], ['b2', false, 1], ['b3', true, 2]]);
});

test('answers link their citations; kept tokens are found in the raw block', () => {
  const parts = linkCitations('See src/net/config.ts:2 and retry.ts:31-40, not other.ts:3.', [
    { path: 'src/net/config.ts', startLine: 1, endLine: 3 },
    { path: 'src/net/retry.ts', startLine: 25, endLine: 60 },
  ]);
  assert.deepEqual(parts.filter((p) => p.kind === 'cite').map((p) => p.kind === 'cite' && citationLabel(p.citation)), ['src/net/config.ts:2', 'src/net/retry.ts:31-40']);
  assert.equal(parts.map((p) => p.text).join(''), 'See src/net/config.ts:2 and retry.ts:31-40, not other.ts:3.');

  const raw = 'import os\n\nDEFAULT_PORT = 8080\n\ndef start_server(port: int = DEFAULT_PORT) -> None:\n    """Start."""';
  const compressed = '3| DEFAULT_PORT = 8080\n5| def start_server(port: int = DEFAULT_PORT) -> None:';
  const segs = keptSegments(raw, compressed, 1);
  assert.equal(segs.map((s) => s.text).join(''), raw, 'segments cover the raw text exactly');
  const kept = segs.filter((s) => s.kept).map((s) => s.text).join('|');
  assert.match(kept, /DEFAULT_PORT/);
  assert.doesNotMatch(kept, /import|Start/);
  assert.equal(ratio(37, 20), '1.9×');
});

test('sidebar state: questions, streamed trace, results, late messages, history, restore', () => {
  let s = initialState();
  s = reduce(s, { type: 'askStarted', askId: 'a1', question: 'q1' });
  s = reduce(s, { type: 'trace', askId: 'a1', event: TRACE[7]! });
  s = reduce(s, { type: 'trace', askId: 'a1', event: TRACE[8]! });
  assert.equal(s.current?.answer, 'It is 250 ms (src/a.ts:2).');
  s = reduce(s, { type: 'askStarted', askId: 'a2', question: 'q2' });
  const late = reduce(s, { type: 'trace', askId: 'a1', event: TRACE[0]! });
  assert.equal(late, s, 'a late event of an older question changes nothing');
  s = reduce(s, { type: 'askFailed', askId: 'a2', message: 'stopped', cancelled: true });
  assert.equal(s.current?.status, 'stopped');
  assert.deepEqual(s.history, ['q2', 'q1']);
  assert.deepEqual(remember(['a', 'b', 'c'], 'b'), ['b', 'a', 'c']);
  assert.deepEqual(browseHistory(['new', 'old'], -1, 'older'), { index: 0, text: 'new' });
  assert.deepEqual(browseHistory(['new', 'old'], 1, 'older'), { index: 1, text: 'old' });
  assert.deepEqual(browseHistory(['new', 'old'], 0, 'newer'), { index: -1, text: '' });

  const running = reduce(initialState(), { type: 'askStarted', askId: 'a3', question: 'q3' });
  const restored = restoreState(JSON.parse(JSON.stringify({ ...running, draft: 'half typed' })));
  assert.equal(restored.draft, 'half typed');
  assert.equal(restored.current?.status, 'stopped', 'a question running when the view was disposed is not shown as running forever');
  assert.deepEqual(restoreState('garbage'), initialState());

  // A replay of the same question to a re-shown view keeps the feedback given and the draft.
  let shown = reduce(initialState(), { type: 'askStarted', askId: 'a4', question: 'q4' });
  shown = { ...shown, draft: 'next', current: { ...shown.current!, feedback: { verdict: 'up', marked: { b1: true } } } };
  shown = reduce(shown, { type: 'askStarted', askId: 'a4', question: 'q4' });
  shown = reduce(shown, { type: 'trace', askId: 'a4', event: TRACE[0]! });
  assert.equal(shown.current?.feedback.verdict, 'up');
  assert.equal(shown.current?.steps.length, 1, 'replayed steps are not doubled');
  assert.equal(shown.draft, 'next');

  // A finished question keeps its answer, citations and how the engine read the question.
  let done = reduce(initialState(), { type: 'askStarted', askId: 'a5', question: 'who calls open_connection' });
  const citation = { path: 'db/pool.py', startLine: 29, endLine: 29 };
  const stats = { blocksTotal: 4, blocksRead: 2, tokensRead: 90, ms: 12, peakRssMb: 200, citationsDropped: 0 };
  done = reduce(done, {
    type: 'askDone',
    askId: 'a5',
    result: {
      answer: 'Uses of `open_connection`: db/pool.py:29',
      citations: [citation],
      references: [{ ...citation, text: 'conn = open_connection(host)' }, { path: 'db/cli.py', startLine: 4, endLine: 4, text: 'open_connection(argv[0])' }],
      steps: [],
      stats,
      confidence: 'answer',
      interpreted: 'Where is `open_connection` called?',
    },
  });
  assert.equal(done.current?.status, 'done');
  assert.deepEqual(done.current?.citations, [citation]);
  assert.equal(done.current?.interpreted, 'Where is `open_connection` called?');
  // Every use found, also those the answer could not cite.
  assert.deepEqual(done.current?.references?.map((r) => `${r.path}:${r.startLine}: ${r.text}`), ['db/pool.py:29: conn = open_connection(host)', 'db/cli.py:4: open_connection(argv[0])']);
});

test('the engine client talks to engram serve, restarts it after a crash, and gives up on a crash loop', async () => {
  const { dir, cleanup } = tempRepo();
  const repo = join(dir, 'repo');
  writeFiles(repo, sampleFiles());
  const states: string[] = [];
  const launch = () => ({ command: process.execPath, args: [CLI, 'serve', '--stdio', '--repo', repo, '--store', join(dir, 'store')], env: process.env, cwd: repo });
  const client = new EngineClient({ launch, onState: (s: ClientState, m?: string) => states.push(m ? `${s}: ${m}` : s), restartDelayMs: 50 });
  try {
    const first = await client.request(StatusRequest, {});
    assert.equal(typeof first.blocks, 'number');
    const pid = client.pid;
    process.kill(pid!, 'SIGKILL');
    await waitFor(() => client.state === 'running' && client.pid !== pid);
    assert.ok(states.some((s) => /^restarting: The Engram engine stopped \(signal SIGKILL/.test(s)), states.join('\n'));
    assert.equal(typeof (await client.request(StatusRequest, {})).files, 'number');
    await client.stop();
    assert.equal(client.state, 'stopped');

    const fragile = new EngineClient({ launch, maxRestarts: 0, onState: (s: ClientState, m?: string) => states.push(`fragile ${s}${m ? `: ${m}` : ''}`) });
    await fragile.start();
    process.kill(fragile.pid!, 'SIGKILL');
    await waitFor(() => fragile.state === 'failed');
    assert.ok(states.some((s) => /fragile failed: The Engram engine keeps stopping/.test(s)));
  } finally {
    await client.stop();
    cleanup();
  }
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), 'condition reached');
}
