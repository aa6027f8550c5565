// What both webviews share: the HTML shell from the built webview folder, and the
// validated message channel (bad messages are dropped and logged, never acted on).
import * as vscode from 'vscode';
import { makeNonce, webviewHtml } from './html.js';

export function webviewRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, enableCommandUris: false, localResourceRoots: [webviewRoot(extensionUri)] };
}

export function setHtml(webview: vscode.Webview, extensionUri: vscode.Uri, view: 'sidebar' | 'inspector'): void {
  const root = webviewRoot(extensionUri);
  const uri = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(root, name)).toString();
  webview.html = webviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    title: view === 'sidebar' ? 'Engram' : 'Engram Memory Inspector',
    scriptUri: uri(`${view}.js`),
    styleUris: [uri('codicon.css'), uri('common.css'), uri(`${view}.css`)],
    view,
  });
}

/** Routes messages that pass `parse`; logs and drops the rest. */
export function listen<T>(webview: vscode.Webview, parse: (v: unknown) => T | null, handle: (msg: T) => unknown, log: vscode.LogOutputChannel, name: string): vscode.Disposable {
  return webview.onDidReceiveMessage((raw: unknown) => {
    const msg = parse(raw);
    if (!msg) {
      log.warn(`${name}: dropped a malformed or unknown message: ${preview(raw)}`);
      return;
    }
    Promise.resolve()
      .then(() => handle(msg))
      .catch((e: unknown) => log.error(`${name}: ${e instanceof Error ? e.message : String(e)}`));
  });
}

function preview(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return String(v);
  }
}
