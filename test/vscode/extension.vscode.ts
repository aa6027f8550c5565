// Runs inside VS Code through @vscode/test-cli (mocha, tdd UI): the extension activates by
// command, registers every command, indexes the fixture and opens the inspector.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

declare function suite(name: string, fn: () => void): void;
declare function test(name: string, fn: () => Promise<void>): void;

const COMMANDS = ['ask', 'askAboutSelection', 'indexWorkspace', 'rebuildIndex', 'pauseIndexing', 'showInspector', 'exportFeedback', 'selectReasoner', 'downloadModel', 'openSettings'];

suite('Engram extension', () => {
  test('is not active until a command or view needs it, then registers every command', async () => {
    const ext = vscode.extensions.getExtension('engram.engram');
    assert.ok(ext, 'installed');
    assert.equal(ext.isActive, false);
    await vscode.commands.executeCommand('engram.showView');
    assert.equal(ext.isActive, true);
    const all = await vscode.commands.getCommands(true);
    for (const c of COMMANDS) assert.ok(all.includes(`engram.${c}`), c);
  });

  test('indexes the workspace and opens the memory inspector', async () => {
    await vscode.commands.executeCommand('engram.indexWorkspace');
    await vscode.commands.executeCommand('engram.showInspector');
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs);
    assert.ok(tabs.some((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.includes('engram.inspector')));
  });
});
