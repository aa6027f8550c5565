import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import {
  IndexRequest,
  InspectRequest,
  ProgressNotification,
  RpcErrorCode,
  SearchRequest,
  StatusRequest,
  UpdatedNotification,
  WatchRequest,
} from '../src/core/protocol.js';
import type { Progress } from '../src/core/types.js';
import { CLI, sampleFiles, tempRepo, writeFiles } from './support/repo.js';

test('serve --stdio answers index, status, search, inspect and watch over JSON-RPC', async () => {
  const { dir, cleanup } = tempRepo();
  const repo = join(dir, 'repo');
  writeFiles(repo, sampleFiles());
  const server = spawn(process.execPath, [CLI, 'serve', '--stdio', '--repo', repo, '--store', join(dir, 'store')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const rpc = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  const progress: Progress[] = [];
  rpc.onNotification(ProgressNotification, (p) => progress.push(p));
  const updated: number[] = [];
  rpc.onNotification(UpdatedNotification, ({ paths }) => updated.push(paths));
  rpc.listen();
  try {
    const report = await rpc.sendRequest(IndexRequest, {});
    assert.equal(report.filesIndexed, 4);
    assert.ok(progress.length > 0 && progress.at(-1)?.phase === 'done');

    const status = await rpc.sendRequest(StatusRequest, {});
    assert.equal(status.skipped.secret, 1);

    const { results } = await rpc.sendRequest(SearchRequest, { query: 'start server port', k: 3 });
    assert.equal(results[0]?.path, 'app/server.py');
    const block = await rpc.sendRequest(InspectRequest, { target: results[0]!.blockId });
    assert.ok(block.raw?.includes('DEFAULT_PORT'));

    await assert.rejects(rpc.sendRequest(SearchRequest, { query: '' }), (e: unknown) => e instanceof ResponseError && e.code === RpcErrorCode.UserError);
    await assert.rejects(rpc.sendRequest(InspectRequest, { target: 'missing.ts:1' }), (e: unknown) => e instanceof ResponseError && e.code === RpcErrorCode.UserError);

    assert.deepEqual(await rpc.sendRequest(WatchRequest, { enabled: true }), { watching: true });
    writeFileSync(join(repo, 'src/added.ts'), 'export function addedWhileWatching() {}\n');
    for (let i = 0; i < 200 && updated.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(updated.length > 0, 'an update notification arrives');
    const after = await rpc.sendRequest(SearchRequest, { query: 'addedWhileWatching', k: 3 });
    assert.equal(after.results[0]?.path, 'src/added.ts');
    assert.deepEqual(await rpc.sendRequest(WatchRequest, { enabled: false }), { watching: false });
  } finally {
    rpc.dispose();
    server.stdin.end();
    await new Promise((r) => server.once('exit', r));
    cleanup();
  }
});
