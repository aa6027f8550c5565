// `engram serve --stdio`: the engine behind JSON-RPC on stdin/stdout. stdout
// carries only protocol messages; logs go to stderr.
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter, type CancellationToken } from 'vscode-jsonrpc/node';
import { Engine } from '../../core/engine.js';
import { defaultFeedbackFile } from '../../core/feedback/store.js';
import { registerFeedbackHandlers } from '../../core/feedback/serve.js';
import {
  IndexRequest,
  InspectRequest,
  ProgressNotification,
  RpcErrorCode,
  SearchRequest,
  StatusRequest,
  UpdatedNotification,
  WarningNotification,
  WatchRequest,
} from '../../core/protocol.js';
import { CancelledError, UserError } from '../../core/types.js';
import type { WorkspaceWatcher } from '../../core/sync/watcher.js';
import { resolve as resolvePath } from 'node:path';
import type { Command } from '../io.js';
import { usageOf } from '../help.js';
import { engineOptions, parseCommand } from '../options.js';
import { ASK_OPTIONS, registerAskHandler } from './ask.js';

export const serveCommand: Command = async (argv, io) => {
  const { values } = parseCommand(argv, { ...ASK_OPTIONS, stdio: { type: 'boolean', default: false }, feedback: { type: 'string' } });
  if (!values.stdio) throw new UserError(usageOf('serve'));

  const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
  const options = engineOptions(values, io);
  const engine = await Engine.open({ ...options, onWarning: (message) => void connection.sendNotification(WarningNotification, { message }) });
  let watcher: WorkspaceWatcher | undefined;

  connection.onRequest(IndexRequest, (_params, token) =>
    guarded(() => withSignal(token, (signal) => engine.index({ signal, onProgress: (p) => void connection.sendNotification(ProgressNotification, p) }))),
  );
  const asking = registerAskHandler(connection, engine, values, io);
  connection.onRequest(StatusRequest, () => guarded(() => engine.status()));
  connection.onRequest(SearchRequest, (params) => guarded(async () => ({ results: await engine.search(String(params?.query ?? ''), params?.k ?? 10) })));
  connection.onRequest(InspectRequest, (params) => guarded(() => engine.inspect(String(params?.target ?? ''))));
  connection.onRequest(WatchRequest, (params) =>
    guarded(async () => {
      if (params?.enabled && !watcher) {
        watcher = await engine.watch({
          onUpdate: (report, paths) => void connection.sendNotification(UpdatedNotification, { report, paths }),
          onError: (e) => void connection.sendNotification(WarningNotification, { message: `watch: ${errorMessage(e)}` }),
        });
      } else if (!params?.enabled && watcher) {
        await watcher.close();
        watcher = undefined;
      }
      return { watching: watcher !== undefined };
    }),
  );

  registerFeedbackHandlers(connection, engine, values.feedback ? resolvePath(io.cwd, values.feedback) : defaultFeedbackFile(io.env));

  const closed = new Promise<void>((resolve) => {
    connection.onClose(() => resolve());
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  connection.listen();
  io.stderr.write(`engram: serving ${engine.repo} on stdio\n`);
  await closed;
  await watcher?.close();
  await asking.close();
  await engine.close();
  connection.dispose();
  return 0;
};

/** Maps engine errors to JSON-RPC errors with our codes; the server never dies on one request. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof UserError) throw new ResponseError(RpcErrorCode.UserError, error.message);
    if (error instanceof CancelledError) throw new ResponseError(RpcErrorCode.Cancelled, error.message);
    throw new ResponseError(RpcErrorCode.EngineFailure, errorMessage(error));
  }
}

function withSignal<T>(token: CancellationToken, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const sub = token.onCancellationRequested(() => controller.abort());
  return fn(controller.signal).finally(() => sub.dispose());
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
