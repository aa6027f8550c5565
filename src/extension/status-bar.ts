// The engine's state in one place: the status bar item and the sidebar both show it.
import * as vscode from 'vscode';
import type { StatusView } from './webview-protocol.js';

export class StatusModel implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('engram.status', vscode.StatusBarAlignment.Left, 10);
  private readonly emitter = new vscode.EventEmitter<StatusView>();
  readonly onDidChange = this.emitter.event;
  current: StatusView = { state: 'starting', text: 'Starting…' };

  constructor() {
    this.item.name = 'Engram';
    this.item.command = 'engram.showView';
    this.render();
    this.item.show();
  }

  set(status: StatusView): void {
    this.current = status;
    this.render();
    this.emitter.fire(status);
  }

  private render(): void {
    const s = this.current;
    const icons: Record<StatusView['state'], string> = {
      starting: '$(loading~spin)',
      indexing: '$(sync~spin)',
      paused: '$(debug-pause)',
      ready: '$(database)',
      error: '$(error)',
      untrusted: '$(shield)',
      stopped: '$(circle-slash)',
    };
    const pct = s.state === 'indexing' && s.percent !== undefined ? ` ${Math.floor(s.percent)}%` : '';
    this.item.text = `${icons[s.state]} Engram${pct}`;
    this.item.tooltip = `Engram: ${s.text}${s.blocks !== undefined ? ` · ${s.blocks.toLocaleString()} blocks` : ''}\nClick to open the Engram view`;
    this.item.backgroundColor = s.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
    this.emitter.dispose();
  }
}
