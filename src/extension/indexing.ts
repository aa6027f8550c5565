// Background indexing: one index run at a time, a cancellable progress notification,
// pause/resume (a paused run keeps what it finished; resuming continues from there),
// then watching so the store follows edits.
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { IndexRequest, RpcErrorCode, StatusRequest, WatchRequest } from '../core/protocol.js';
import type { Progress } from '../core/types.js';
import type { EngineClient } from './engine-client.js';
import type { StatusModel } from './status-bar.js';

export class Indexing implements vscode.Disposable {
  private running: vscode.CancellationTokenSource | undefined;
  private paused = false;
  private progressListeners = new Set<(p: Progress) => void>();

  constructor(
    private readonly client: EngineClient,
    private readonly status: StatusModel,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Feeds `progress` notifications of the engine to the running index. */
  onProgress(p: Progress): void {
    for (const l of this.progressListeners) l(p);
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Indexes in the background; resolves when done, paused or failed (never throws). */
  async run(): Promise<void> {
    if (this.running) return;
    this.paused = false;
    const cts = new vscode.CancellationTokenSource();
    this.running = cts;
    this.status.set({ state: 'indexing', text: 'Indexing…', percent: 0 });
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Engram: indexing workspace', cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => this.pause());
          let reported = 0;
          const listener = (p: Progress) => {
            const pct = percent(p);
            progress.report({ increment: Math.max(0, pct - reported), message: `${p.filesDone}/${p.filesTotal} files${p.etaSec ? ` · ${Math.ceil(p.etaSec)} s left` : ''}` });
            reported = Math.max(reported, pct);
            this.status.set({ state: 'indexing', text: `Indexing ${p.filesDone}/${p.filesTotal} files`, percent: pct });
          };
          this.progressListeners.add(listener);
          try {
            const report = await this.client.request(IndexRequest, {}, cts.token);
            this.log.info(`index: ${JSON.stringify(report)}`);
          } finally {
            this.progressListeners.delete(listener);
          }
        },
      );
      this.running = undefined;
      await this.client.request(WatchRequest, { enabled: true }).catch((e: unknown) => this.log.warn(`watch: ${message(e)}`));
      await this.refresh();
    } catch (error) {
      if (this.paused || (error instanceof ResponseError && error.code === RpcErrorCode.Cancelled)) {
        this.status.set({ state: 'paused', text: 'Indexing paused' });
      } else {
        this.log.error(`index failed: ${message(error)}`);
        this.status.set({ state: 'error', text: `Indexing failed: ${message(error)}` });
      }
    } finally {
      cts.dispose();
      if (this.running === cts) this.running = undefined;
    }
  }

  pause(): void {
    if (!this.running) return;
    this.paused = true;
    this.running.cancel();
  }

  async toggle(): Promise<void> {
    if (this.running) this.pause();
    else await this.run();
  }

  /** Status from the store (after indexing, or when the store changes). */
  async refresh(): Promise<void> {
    if (this.running) return;
    try {
      const s = await this.client.request(StatusRequest, {});
      this.status.set({ state: this.paused ? 'paused' : 'ready', text: this.paused ? 'Indexing paused' : 'Ready', blocks: s.blocks, tokens: s.tokens });
    } catch (error) {
      this.status.set({ state: 'error', text: message(error) });
    }
  }

  dispose(): void {
    this.running?.cancel();
  }
}

function percent(p: Progress): number {
  if (p.phase === 'done') return 100;
  if (p.tokensTotal > 0) return Math.min(99, (100 * p.tokensDone) / p.tokensTotal);
  return p.filesTotal > 0 ? Math.min(99, (100 * p.filesDone) / p.filesTotal) : 0;
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
