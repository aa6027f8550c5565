// The sidebar WebviewView: forwards validated messages to the engine and pushes status,
// trace and results back. The webview can be destroyed when hidden; on `ready` it gets
// the current status, pins and a replay of the last question.
import * as vscode from 'vscode';
import { FeedbackRequest, InspectRequest } from '../core/protocol.js';
import { openRange } from './citations.js';
import type { Services } from './services.js';
import { reasonerLabel } from './settings.js';
import { listen, setHtml, webviewOptions } from './webviews.js';
import { parseSidebarMessage, type HostToSidebar, type SidebarToHost } from './webview-protocol.js';

export const SIDEBAR_VIEW = 'engram.sidebar';
const EXTENSION_VERSION = vscode.extensions.getExtension('engram.engram')?.packageJSON?.version ?? 'dev';

export class SidebarProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private pendingPrefill: string | undefined;

  constructor(
    private readonly s: Services,
    private readonly commands: { openInspector: (blockId?: string) => void },
  ) {
    this.subs.push(
      s.status.onDidChange((status) => this.post({ type: 'status', status })),
      s.asks.onMessage((m) => this.post(m)),
      s.asks.onPinsChanged(() => this.post({ type: 'pins', ...s.asks.pins() })),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.s.extensionUri);
    setHtml(view.webview, this.s.extensionUri, 'sidebar');
    const sub = listen(view.webview, parseSidebarMessage, (m) => this.handle(m), this.s.log, 'sidebar');
    view.onDidDispose(() => {
      sub.dispose();
      if (this.view === view) this.view = undefined;
    });
  }

  /** Puts a question in the box (Ask About Selection without a question typed yet). */
  prefill(question: string): void {
    if (this.view) this.post({ type: 'prefill', question });
    else this.pendingPrefill = question;
  }

  private post(msg: HostToSidebar): void {
    void this.view?.webview.postMessage(msg);
  }

  private async handle(m: SidebarToHost): Promise<void> {
    const { asks, status } = this.s;
    switch (m.type) {
      case 'ready':
        this.post({ type: 'status', status: status.current });
        this.post({ type: 'pins', ...asks.pins() });
        this.post({ type: 'feedbackEnabled', enabled: this.s.settings().feedbackEnabled });
        for (const r of asks.replay()) this.post(r);
        if (this.pendingPrefill) this.post({ type: 'prefill', question: this.pendingPrefill });
        this.pendingPrefill = undefined;
        return;
      case 'ask':
        await asks.ask(m.question);
        return;
      case 'stop':
        asks.stop();
        return;
      case 'openRange':
        await openRange(this.s.root, m.range);
        return;
      case 'inspectBlock':
        this.commands.openInspector(m.blockId);
        return;
      case 'rawBlock': {
        const block = await this.s.client.request(InspectRequest, { target: m.blockId });
        this.post({ type: 'rawBlock', blockId: m.blockId, raw: block.raw, compressed: block.compressed });
        return;
      }
      case 'unpin':
        asks.unpin(m.blockId);
        return;
      case 'command':
        await vscode.commands.executeCommand(
          { index: 'engram.indexWorkspace', pauseIndexing: 'engram.pauseIndexing', openInspector: 'engram.showInspector', openSettings: 'engram.openSettings', exportFeedback: 'engram.exportFeedback' }[m.command],
        );
        return;
      case 'feedback':
        await this.feedback(m);
        return;
    }
  }

  private async feedback(m: Extract<SidebarToHost, { type: 'feedback' }>): Promise<void> {
    const session = this.s.asks.session;
    if (!this.s.settings().feedbackEnabled) {
      this.post({ type: 'feedbackSaved', askId: m.askId, ok: false, message: 'Feedback collection is off (engram.feedback.enabled).' });
      return;
    }
    if (!session || session.askId !== m.askId || !session.result) {
      this.s.log.warn(`feedback for an unknown or unfinished question ${m.askId} dropped`);
      return;
    }
    try {
      const r = session.result;
      await this.s.client.request(FeedbackRequest, {
        askId: m.askId,
        question: session.question,
        answer: r.answer,
        citations: r.citations,
        trace: r.steps.length ? r.steps : session.steps,
        ...(m.verdict ? { verdict: m.verdict } : {}),
        ...(m.correctedAnswer ? { correctedAnswer: m.correctedAnswer } : {}),
        ...(m.blocks ? { blocks: m.blocks } : {}),
        models: { reasoner: reasonerLabel(this.s.settings(), process.env), extension: EXTENSION_VERSION },
      });
      this.post({ type: 'feedbackSaved', askId: m.askId, ok: true, message: 'Thanks, saved locally.' });
    } catch (error) {
      this.post({ type: 'feedbackSaved', askId: m.askId, ok: false, message: `Not saved: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  dispose(): void {
    for (const d of this.subs) d.dispose();
  }
}
