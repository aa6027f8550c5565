// Keeps the store current while files change: chokidar events, debounced and
// batched. Ignore rules are applied before anything is watched, so ignored trees
// (node_modules, build outputs) never cost a watch handle.
import { watch, type FSWatcher } from 'chokidar';
import { basename, relative, sep } from 'node:path';
import { IGNORE_FILE_NAMES, type Scanner } from '../scan/index.js';
import type { Indexer, IndexReport } from './indexer.js';

export interface WatchOptions {
  /** Quiet time before a batch of changes is indexed. */
  debounceMs?: number;
  /** Above this many changed paths in one batch, a full reconcile is cheaper and converges for sure (branch switches). */
  reconcileAbove?: number;
  onUpdate?: (report: IndexReport, paths: number) => void;
  onError?: (error: unknown) => void;
}

export class WorkspaceWatcher {
  private readonly pending = new Set<string>();
  private fullReconcile = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private watcher: FSWatcher | undefined;

  constructor(
    private readonly scanner: Scanner,
    private readonly indexer: Indexer,
    private readonly options: WatchOptions = {},
  ) {}

  /** Starts watching; resolves once the initial directory scan of the watcher is done. */
  async start(): Promise<void> {
    const root = this.scanner.root;
    const watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      ignored: (path, stats) => {
        const rel = relative(root, path);
        if (rel === '' || rel.startsWith('..')) return false;
        return this.scanner.isIgnored(rel.split(sep).join('/'), stats?.isDirectory() ?? false);
      },
    });
    this.watcher = watcher;
    const onPath = (path: string): void => this.enqueue(relative(root, path).split(sep).join('/'));
    watcher.on('add', onPath).on('change', onPath).on('unlink', onPath);
    // A directory appearing or vanishing (rename, checkout) can hide many file events.
    watcher.on('addDir', () => this.enqueueReconcile()).on('unlinkDir', () => this.enqueueReconcile());
    watcher.on('error', (error) => this.options.onError?.(error));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  /** Resolves when every change seen so far is in the store. */
  async idle(): Promise<void> {
    while (this.timer !== undefined || this.pending.size > 0 || this.fullReconcile) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await this.running;
    }
    await this.running;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.watcher?.close();
    await this.running;
  }

  private enqueue(path: string): void {
    if (IGNORE_FILE_NAMES.includes(basename(path))) {
      this.scanner.invalidateIgnoreRules();
      this.enqueueReconcile();
      return;
    }
    this.pending.add(path);
    this.schedule();
  }

  private enqueueReconcile(): void {
    this.fullReconcile = true;
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.running.then(() => this.flush());
    }, this.options.debounceMs ?? 150);
  }

  private async flush(): Promise<void> {
    const paths = [...this.pending];
    const full = this.fullReconcile || paths.length > (this.options.reconcileAbove ?? 500);
    this.pending.clear();
    this.fullReconcile = false;
    if (!full && paths.length === 0) return;
    try {
      const report = full ? await this.indexer.indexAll() : await this.indexer.updatePaths(paths);
      this.options.onUpdate?.(report, paths.length);
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
