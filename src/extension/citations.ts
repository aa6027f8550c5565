// Opens a cited range of the workspace in an editor, selected and highlighted.
import * as vscode from 'vscode';
import type { Range } from './webview-protocol.js';

const highlight = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.rangeHighlightBackground'),
  isWholeLine: true,
  overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.findMatchForeground'),
  overviewRulerLane: vscode.OverviewRulerLane.Center,
});

export async function openRange(root: vscode.Uri, range: Range): Promise<vscode.TextEditor | undefined> {
  const uri = vscode.Uri.joinPath(root, ...range.path.split('/'));
  try {
    const doc = await vscode.workspace.openTextDocument(uri);
    const last = Math.max(0, doc.lineCount - 1);
    const start = Math.min(range.startLine - 1, last);
    const end = Math.min(range.endLine - 1, last);
    const selection = new vscode.Range(start, 0, end, doc.lineAt(end).text.length);
    const editor = await vscode.window.showTextDocument(doc, { selection: new vscode.Selection(selection.start, selection.start), preview: true, viewColumn: vscode.ViewColumn.One });
    editor.revealRange(selection, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    for (const e of vscode.window.visibleTextEditors) e.setDecorations(highlight, []);
    editor.setDecorations(highlight, [selection]);
    return editor;
  } catch (error) {
    void vscode.window.showWarningMessage(`Engram: cannot open ${range.path}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

export function disposeHighlight(): void {
  highlight.dispose();
}
