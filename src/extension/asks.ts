// Questions: one at a time, streamed trace, stop, the pins and exclusions that feed the
// next question, and the last session (replayed to a re-shown view, used by the inspector
// to say why blocks were kept or dropped, and by feedback).
import * as vscode from 'vscode';
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc';
import { AskRequest, RpcErrorCode, type AskParams } from '../core/protocol.js';
import type { AskResult, TraceEvent } from '../core/types.js';
import type { EngineClient } from './engine-client.js';
import { gateWhy } from './gate-why.js';
import type { GateWhy, HostToSidebar, PinView } from './webview-protocol.js';

export interface AskSession {
  askId: string;
  question: string;
  steps: TraceEvent[];
  result?: AskResult;
  error?: { message: string; cancelled: boolean };
}

export class Asks implements vscode.Disposable {
  session: AskSession | undefined;
  readonly pinned = new Map<string, string>();
  readonly excluded = new Map<string, string>();
  private cts: vscode.CancellationTokenSource | undefined;
  private readonly emitter = new vscode.EventEmitter<HostToSidebar>();
  /** Every change, as the sidebar message that shows it. */
  readonly onMessage = this.emitter.event;
  private readonly pinsEmitter = new vscode.EventEmitter<void>();
  readonly onPinsChanged = this.pinsEmitter.event;

  constructor(
    private readonly client: EngineClient,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Trace notifications of the engine, for the running question only. */
  onTrace(askId: string, event: TraceEvent): void {
    if (!this.session || this.session.askId !== askId || this.session.result) return;
    this.session.steps.push(event);
    this.emitter.fire({ type: 'trace', askId, event });
  }

  async ask(question: string, extraPinned: string[] = []): Promise<AskSession> {
    this.stop();
    const askId = `a${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const session: AskSession = { askId, question, steps: [] };
    this.session = session;
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    this.emitter.fire({ type: 'askStarted', askId, question });
    const params: AskParams = { question, askId, pinned: [...new Set([...this.pinned.keys(), ...extraPinned])], excluded: [...this.excluded.keys()] };
    try {
      const result = await this.client.request(AskRequest, params, cts.token);
      session.result = result;
      this.emitter.fire({ type: 'askDone', askId, result });
    } catch (error) {
      const cancelled = cts.token.isCancellationRequested || (error instanceof ResponseError && error.code === RpcErrorCode.Cancelled);
      const message =
        error instanceof ResponseError && error.code === ErrorCodes.MethodNotFound
          ? 'This engine cannot answer questions yet (no ask handler in engram serve).'
          : error instanceof Error
            ? error.message
            : String(error);
      if (!cancelled) this.log.error(`ask failed: ${message}`);
      session.error = { message, cancelled };
      this.emitter.fire({ type: 'askFailed', askId, message, cancelled });
    } finally {
      if (this.cts === cts) this.cts = undefined;
      cts.dispose();
    }
    return session;
  }

  stop(): void {
    this.cts?.cancel();
  }

  get running(): boolean {
    return this.cts !== undefined;
  }

  /** The messages that rebuild the sidebar's view of the last question. */
  replay(): HostToSidebar[] {
    const s = this.session;
    if (!s) return [];
    const out: HostToSidebar[] = [{ type: 'askStarted', askId: s.askId, question: s.question }];
    for (const event of s.steps) out.push({ type: 'trace', askId: s.askId, event });
    if (s.result) out.push({ type: 'askDone', askId: s.askId, result: s.result });
    if (s.error) out.push({ type: 'askFailed', askId: s.askId, ...s.error });
    return out;
  }

  pin(blockId: string, label: string): void {
    this.excluded.delete(blockId);
    if (this.pinned.has(blockId)) this.pinned.delete(blockId);
    else this.pinned.set(blockId, label);
    this.pinsEmitter.fire();
  }

  exclude(blockId: string, label: string): void {
    this.pinned.delete(blockId);
    if (this.excluded.has(blockId)) this.excluded.delete(blockId);
    else this.excluded.set(blockId, label);
    this.pinsEmitter.fire();
  }

  unpin(blockId: string): void {
    this.pinned.delete(blockId);
    this.excluded.delete(blockId);
    this.pinsEmitter.fire();
  }

  pins(): { pinned: PinView[]; excluded: PinView[] } {
    const list = (m: Map<string, string>) => [...m].map(([blockId, label]) => ({ blockId, label }));
    return { pinned: list(this.pinned), excluded: list(this.excluded) };
  }

  /** Why the gate kept or dropped each candidate of the last question that got through the gate. */
  why(): GateWhy | null {
    const s = this.session;
    const current = s ? gateWhy(s.question, s.result?.steps.length ? s.result.steps : s.steps) : null;
    if (current?.decisions.length) this.lastWhy = current;
    return this.lastWhy;
  }
  private lastWhy: GateWhy | null = null;

  dispose(): void {
    this.stop();
    this.emitter.dispose();
    this.pinsEmitter.dispose();
  }
}
