// The server side of feedback: `feedback` appends a record, `exportFeedback` writes the
// TRL files. Kept apart from serve.ts so the request handlers there stay one line each.
import { ResponseError, type MessageConnection } from 'vscode-jsonrpc';
import type { Engine } from '../engine.js';
import { ExportFeedbackRequest, FeedbackRequest, RpcErrorCode } from '../protocol.js';
import { UserError } from '../types.js';
import { exportFeedback } from './export.js';
import { parseFeedbackInput } from './record.js';
import { FeedbackStore } from './store.js';

export function registerFeedbackHandlers(connection: MessageConnection, engine: Engine, file: string): void {
  const store = new FeedbackStore(file);
  connection.onRequest(FeedbackRequest, (params) =>
    mapped(async () => {
      const input = parseFeedbackInput(params);
      // The gate learns from block text: fill it in from the store where the client had only the id.
      for (const block of input.blocks ?? []) {
        if (block.text !== undefined || !block.blockId) continue;
        block.text = await engine.inspect(block.blockId).then((b) => b.compressed, () => undefined);
      }
      const status = await engine.status();
      const { models: clientModels, ...rest } = input;
      const models: Record<string, string> = { ...clientModels, compressor: String(status.compressor ?? 'unknown') };
      const record = await store.append(rest, { repo: engine.repo, models });
      return { id: record.id, file };
    }),
  );
  connection.onRequest(ExportFeedbackRequest, (params) =>
    mapped(async () => {
      if (typeof params?.out !== 'string' || !params.out) throw new UserError('exportFeedback needs an output folder');
      const { records } = await store.readAll();
      if (!records.length) throw new UserError(`no feedback yet in ${file}`);
      return exportFeedback(records, params.out);
    }),
  );
}

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof UserError) throw new ResponseError(RpcErrorCode.UserError, error.message);
    throw new ResponseError(RpcErrorCode.EngineFailure, error instanceof Error ? error.message : String(error));
  }
}
