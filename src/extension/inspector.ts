// The memory inspector, an editor tab: files and their blocks, search, one block raw
// beside compressed with neighbours and the gate's reasons; pin/exclude feed the next question.
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { InspectRequest, RpcErrorCode, SearchRequest } from '../core/protocol.js';
import type { InspectedBlock } from '../core/engine.js';
import { openRange } from './citations.js';
import type { Services } from './services.js';
import { listen, setHtml, webviewOptions } from './webviews.js';
import { parseInspectorMessage, type BlockDetail, type BlockSummary, type HostToInspector, type InspectorToHost } from './webview-protocol.js';

const MAX_FILES = 2000;
const MAX_BLOCKS_PER_FILE = 400;

export class InspectorPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private pendingBlock: string | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly s: Services) {
    this.subs.push(
      s.asks.onPinsChanged(() => this.post({ type: 'pins', ...s.asks.pins() })),
      s.asks.onMessage((m) => (m.type === 'askDone' || m.type === 'askFailed' ? this.post({ type: 'why', why: s.asks.why() }) : undefined)),
    );
  }

  show(blockId?: string): void {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside);
      if (blockId) void this.inspect(blockId);
      return;
    }
    this.pendingBlock = blockId;
    const panel = vscode.window.createWebviewPanel('engram.inspector', 'Engram Memory', vscode.ViewColumn.Beside, webviewOptions(this.s.extensionUri));
    panel.iconPath = vscode.Uri.joinPath(this.s.extensionUri, 'media', 'engram.svg');
    setHtml(panel.webview, this.s.extensionUri, 'inspector');
    const sub = listen(panel.webview, parseInspectorMessage, (m) => this.handle(m), this.s.log, 'inspector');
    panel.onDidDispose(() => {
      sub.dispose();
      this.panel = undefined;
    });
    this.panel = panel;
  }

  private post(msg: HostToInspector): void {
    void this.panel?.webview.postMessage(msg);
  }

  private async handle(m: InspectorToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.post({ type: 'pins', ...this.s.asks.pins() });
        this.post({ type: 'why', why: this.s.asks.why() });
        await this.listFiles('');
        if (this.pendingBlock) await this.inspect(this.pendingBlock);
        this.pendingBlock = undefined;
        return;
      case 'listFiles':
        await this.listFiles(m.filter);
        return;
      case 'fileBlocks':
        this.post({ type: 'fileBlocks', path: m.path, blocks: await this.fileBlocks(m.path) });
        return;
      case 'search': {
        const { results } = await this.s.client.request(SearchRequest, { query: m.query, k: 30 });
        this.post({ type: 'searchResults', query: m.query, results: results.map((r) => ({ blockId: r.blockId, path: r.path, startLine: r.startLine, endLine: r.endLine, score: r.score })) });
        return;
      }
      case 'inspect':
        await this.inspect(m.target);
        return;
      case 'pin':
        this.s.asks.pin(m.blockId, m.label);
        return;
      case 'exclude':
        this.s.asks.exclude(m.blockId, m.label);
        return;
      case 'openRange':
        await openRange(this.s.root, m.range);
        return;
    }
  }

  private async listFiles(filter: string): Promise<void> {
    const pattern = filter.trim() ? `**/*${filter.trim().replace(/[[\]{}]/g, '')}*` : '**/*';
    const exclude = '{**/node_modules/**,**/.git/**,**/dist/**,**/out/**}';
    const uris = await vscode.workspace.findFiles(new vscode.RelativePattern(this.s.root, pattern), exclude, MAX_FILES + 1);
    const files = uris.map((u) => vscode.workspace.asRelativePath(u, false)).sort();
    this.post({ type: 'files', files: files.slice(0, MAX_FILES), truncated: files.length > MAX_FILES });
  }

  /** A file's blocks, walked through `inspect PATH:LINE` from the top (blocks tile their file). */
  private async fileBlocks(path: string): Promise<BlockSummary[]> {
    const out: BlockSummary[] = [];
    let lineCount = Infinity;
    try {
      lineCount = (await vscode.workspace.openTextDocument(vscode.Uri.joinPath(this.s.root, ...path.split('/')))).lineCount;
    } catch {
      // not a text file: the walk stops at the first line without a block
    }
    let line = 1;
    let misses = 0;
    while (line <= lineCount && out.length < MAX_BLOCKS_PER_FILE && misses < 50) {
      try {
        const b = await this.s.client.request(InspectRequest, { target: `${path}:${line}` });
        out.push({ blockId: b.id, path: b.path, startLine: b.startLine, endLine: b.endLine });
        line = Math.max(line + 1, b.endLine + 1);
        misses = 0;
      } catch (error) {
        if (!(error instanceof ResponseError && error.code === RpcErrorCode.UserError)) throw error;
        if (!Number.isFinite(lineCount) || out.length === 0) break; // not indexed: no block at its first line
        line++;
        misses++;
      }
    }
    return out;
  }

  async inspect(target: string): Promise<void> {
    try {
      const b = await this.s.client.request(InspectRequest, { target });
      const neighbours = await this.s.client
        .request(SearchRequest, { query: [b.symbols.join(' '), b.compressed].join('\n').slice(0, 800), k: 8 })
        .then((r) => r.results.filter((n) => n.blockId !== b.id).slice(0, 6).map((n) => ({ blockId: n.blockId, path: n.path, startLine: n.startLine, endLine: n.endLine, score: n.score })))
        .catch(() => []);
      this.post({ type: 'block', block: detail(b), neighbours });
    } catch (error) {
      this.post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.subs) d.dispose();
  }
}

function detail(b: InspectedBlock): BlockDetail {
  return {
    blockId: b.id,
    path: b.path,
    startLine: b.startLine,
    endLine: b.endLine,
    lang: b.lang,
    symbols: b.symbols,
    raw: b.raw,
    compressed: b.compressed,
    tokens: b.tokens,
    compressedTokens: b.compressedTokens,
    stale: b.stale,
    model: b.model,
  };
}
