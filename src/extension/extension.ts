// Engram's VS Code shell. It only adapts: the engine runs out of process (`engram serve
// --stdio` under the editor's own Node, ELECTRON_RUN_AS_NODE), so native runtimes and heavy
// work never touch the extension host. Activated by its view and commands only.
import { execFile, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import * as vscode from 'vscode';
import { ExportFeedbackRequest, InspectRequest, ProgressNotification, TraceNotification, UpdatedNotification, WarningNotification } from '../core/protocol.js';
import { Asks } from './asks.js';
import { disposeHighlight } from './citations.js';
import { EngineClient } from './engine-client.js';
import { Indexing, message } from './indexing.js';
import { InspectorPanel } from './inspector.js';
import { defaultFeedbackPath, readSettings, serverLaunch } from './settings.js';
import { SidebarProvider, SIDEBAR_VIEW } from './sidebar.js';
import { StatusModel } from './status-bar.js';
import type { Services } from './services.js';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Engram', { log: true });
  const status = new StatusModel();
  context.subscriptions.push(log, status, { dispose: disposeHighlight });
  const folder = vscode.workspace.workspaceFolders?.[0];
  const settings = () => readSettings((k) => vscode.workspace.getConfiguration('engram').get(k));
  const storeDir = () => settings().storageLocation || vscode.Uri.joinPath(context.storageUri ?? context.globalStorageUri, 'store').fsPath;
  const cli = context.asAbsolutePath('bin/engram.js');
  const nodeEnv = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };

  const client = new EngineClient({
    launch: () =>
      serverLaunch(settings(), { execPath: process.execPath, cli, repo: folder!.uri.fsPath, defaultStore: storeDir(), feedbackFile: defaultFeedbackPath(context.globalStorageUri.fsPath) }, process.env),
    onLog: (line) => log.info(`[engine] ${line}`),
    onState: (state, msg) => {
      if (msg) log.warn(msg);
      if (state === 'restarting' && msg) {
        void vscode.window.showWarningMessage(msg);
        status.set({ state: 'starting', text: 'Engine restarting…' });
      }
      if (state === 'failed') {
        void vscode.window.showErrorMessage(msg ?? 'The Engram engine stopped.');
        status.set({ state: 'error', text: msg ?? 'Engine stopped' });
      }
    },
    onConnected: () => {
      // An engine restarted after a crash resumes indexing where the store left off.
      if (connections++ > 0 && settings().autoIndex && !indexing.isPaused) void indexing.run();
    },
  });
  let started = false;
  let connections = 0;
  const asks = new Asks(client, log);
  const indexing = new Indexing(client, status, log);
  client.onNotification(ProgressNotification, (p) => indexing.onProgress(p));
  client.onNotification(TraceNotification, ({ askId, event }) => asks.onTrace(askId, event));
  client.onNotification(UpdatedNotification, () => void indexing.refresh());
  client.onNotification(WarningNotification, ({ message: m }) => log.warn(m));
  context.subscriptions.push(asks, indexing, { dispose: () => void client.stop() });

  const services: Services = { extensionUri: context.extensionUri, root: folder?.uri ?? vscode.Uri.file('/'), client, asks, indexing, status, log, settings };
  const inspector = new InspectorPanel(services);
  const sidebar = new SidebarProvider(services, { openInspector: (id) => inspector.show(id) });
  context.subscriptions.push(inspector, sidebar, vscode.window.registerWebviewViewProvider(SIDEBAR_VIEW, sidebar));

  /** Starts the engine and background indexing once, when there is a trusted folder. */
  const ensureStarted = async (): Promise<boolean> => {
    if (!folder) {
      status.set({ state: 'stopped', text: 'Open a folder to use Engram' });
      return false;
    }
    if (!vscode.workspace.isTrusted) {
      status.set({ state: 'untrusted', text: 'Restricted mode: trust this workspace to index it' });
      return false;
    }
    if (!started) {
      started = true;
      try {
        await client.start();
      } catch (error) {
        status.set({ state: 'error', text: message(error) });
        started = false;
        return false;
      }
      if (settings().autoIndex) void indexing.run();
      else void indexing.refresh();
    }
    return true;
  };
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void ensureStarted()));

  const command = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  const showView = () => vscode.commands.executeCommand(`${SIDEBAR_VIEW}.focus`);

  command('engram.showView', showView);
  command('engram.ask', async () => {
    await showView();
    if (!(await ensureStarted())) return;
    const question = await vscode.window.showInputBox({ prompt: 'Ask Engram about this workspace', placeHolder: 'Where is the retry delay configured?', ignoreFocusOut: true });
    if (question?.trim()) await asks.ask(question.trim());
  });
  command('engram.askAboutSelection', async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) {
      void vscode.window.showInformationMessage('Engram: select some code first.');
      return;
    }
    if (!(await ensureStarted())) return;
    const sel = editor.selection;
    const path = vscode.workspace.asRelativePath(editor.document.uri, false);
    const where = `${path}:${sel.start.line + 1}-${sel.end.line + 1}`;
    const question = await vscode.window.showInputBox({ prompt: `Ask about ${where}`, value: 'What does this code do, and where is it used?', ignoreFocusOut: true });
    if (!question?.trim()) return;
    // The selected lines' block is read whatever the gate says.
    const pinned = await client.request(InspectRequest, { target: `${path}:${sel.start.line + 1}` }).then((b) => [b.id], () => []);
    await showView();
    await asks.ask(`${question.trim()} (about ${where})`, pinned);
  });
  command('engram.indexWorkspace', async () => {
    if (!(await ensureStarted())) return;
    await indexing.run();
  });
  command('engram.rebuildIndex', async () => {
    if (!folder || !(await ensureStarted())) return;
    const dir = storeDir();
    const ok = await vscode.window.showWarningMessage(`Rebuild the Engram index? This deletes the store at ${dir} and indexes the workspace again.`, { modal: true }, 'Rebuild');
    if (ok !== 'Rebuild') return;
    indexing.pause();
    await client.stop();
    await rm(dir, { recursive: true, force: true });
    await client.restart();
    await indexing.run();
  });
  command('engram.pauseIndexing', async () => {
    if (!(await ensureStarted())) return;
    await indexing.toggle();
  });
  command('engram.showInspector', async (blockId?: unknown) => {
    if (!(await ensureStarted())) return;
    inspector.show(typeof blockId === 'string' ? blockId : undefined);
  });
  command('engram.exportFeedback', async () => {
    if (!(await ensureStarted())) return;
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Export feedback here' });
    if (!picked?.[0]) return;
    try {
      const report = await client.request(ExportFeedbackRequest, { out: picked[0].fsPath });
      void vscode.window.showInformationMessage(`Engram: exported ${report.records} answer${report.records === 1 ? '' : 's'} as ${report.files.map((f) => `${f.name}.jsonl (${f.rows})`).join(', ')} in ${report.dir}`);
    } catch (error) {
      void vscode.window.showWarningMessage(`Engram: ${message(error)}`);
    }
  });
  command('engram.openSettings', () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:engram.engram'));
  command('engram.selectReasoner', () => selectReasoner(cli, nodeEnv, log));
  command('engram.downloadModel', () => downloadModel(cli, nodeEnv, log));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('engram') || !started) return;
      if (e.affectsConfiguration('engram.feedback')) return; // read per message
      log.info('settings changed: restarting the engine');
      indexing.pause();
      await client.restart();
      void indexing.run();
    }),
  );

  // Opening the view is what activates us: start the engine then (background indexing).
  void ensureStarted();
}

export function deactivate(): void {
  // Disposables stop the engine (stdin closes; it exits cleanly).
}

interface ListedModel {
  name: string;
  version?: string;
  role: string;
  path?: string;
  dir?: string;
}

async function selectReasoner(cli: string, env: NodeJS.ProcessEnv, log: vscode.LogOutputChannel): Promise<void> {
  const models = await new Promise<ListedModel[]>((resolve) => {
    execFile(process.execPath, [cli, 'models', 'list', '--json'], { env, timeout: 30_000 }, (error, stdout) => {
      if (error) log.warn(`models list: ${error.message}`);
      try {
        const parsed = JSON.parse(stdout) as { models?: ListedModel[] } | ListedModel[];
        resolve((Array.isArray(parsed) ? parsed : (parsed.models ?? [])).filter((m) => m.role === 'reasoner'));
      } catch {
        resolve([]);
      }
    });
  });
  type Item = vscode.QuickPickItem & { apply: () => Promise<void> };
  const config = () => vscode.workspace.getConfiguration('engram');
  const set = async (k: string, v: unknown) => { await config().update(k, v, vscode.ConfigurationTarget.Global); };
  const items: Item[] = [
    { label: '$(package) Built-in', description: 'the reasoner shipped with Engram', apply: () => set('reasoner.backend', 'builtin') },
    ...models.map((m) => ({
      label: `$(circuit-board) ${m.name}`,
      description: `${m.version ? `${m.version} · ` : ''}${m.dir ?? m.path ?? ''}`,
      apply: async () => {
        await set('reasoner.onnxPath', m.dir ?? m.path ?? m.name);
        await set('reasoner.backend', 'onnx');
      },
    })),
    {
      label: '$(folder) ONNX folder…',
      description: 'a decoder in the Hugging Face / Optimum ONNX layout',
      apply: async () => {
        const dir = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model' });
        if (!dir?.[0]) return;
        await set('reasoner.onnxPath', dir[0].fsPath);
        await set('reasoner.backend', 'onnx');
      },
    },
    {
      label: '$(server) OpenAI-compatible server…',
      description: 'Ollama, llama.cpp server, vLLM, LM Studio',
      apply: async () => {
        const url = await vscode.window.showInputBox({ prompt: 'Server base URL', value: config().get<string>('reasoner.url') || 'http://127.0.0.1:11434/v1' });
        if (!url) return;
        const model = await vscode.window.showInputBox({ prompt: 'Model name on that server', value: config().get<string>('reasoner.model') || '' });
        if (model === undefined) return;
        await set('reasoner.url', url);
        await set('reasoner.model', model);
        await set('reasoner.backend', 'openai');
      },
    },
  ];
  const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Reasoner model for Engram' });
  await pick?.apply();
}

async function downloadModel(cli: string, env: NodeJS.ProcessEnv, log: vscode.LogOutputChannel): Promise<void> {
  const repo = await vscode.window.showInputBox({ prompt: 'Hugging Face model to download (ONNX layout)', placeHolder: 'owner/name', validateInput: (v) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? null : 'owner/name') });
  if (!repo) return;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Engram: downloading ${repo}`, cancellable: true }, (progress, token) => {
    return new Promise<void>((resolve) => {
      // Out of process too: a multi-gigabyte download must not block the extension host.
      const child = spawn(process.execPath, [cli, 'models', 'pull', repo.trim()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      token.onCancellationRequested(() => child.kill());
      const onData = (b: Buffer) => {
        const line = b.toString().trim().split('\n').at(-1) ?? '';
        log.info(`[models] ${line}`);
        progress.report({ message: line.slice(0, 120) });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('close', (code) => {
        if (code === 0) void vscode.window.showInformationMessage(`Engram: ${repo} downloaded. Choose it with "Engram: Select Reasoner Model".`);
        else if (!token.isCancellationRequested) void vscode.window.showErrorMessage(`Engram: downloading ${repo} failed (see the Engram output).`);
        resolve();
      });
    });
  });
}
