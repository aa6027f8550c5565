import type { Command } from '../io.js';
import { withEngine } from '../open-engine.js';
import { parseCommand } from '../options.js';
import { progressPrinter } from '../progress.js';

/** `engram watch`: index, then keep the store current until interrupted. */
export const watchCommand: Command = async (argv, io) => {
  const { values } = parseCommand(argv, {});
  return withEngine(values, io, async (engine) => {
    await engine.index({ signal: io.signal, onProgress: progressPrinter(io.stderr) });
    const watcher = await engine.watch({
      onUpdate: (r, paths) =>
        io.stderr.write(`updated ${paths} paths: ${r.filesIndexed} indexed, ${r.filesDeleted} removed, ${r.filesSkipped} skipped (${r.ms} ms)\n`),
      onError: (e) => io.stderr.write(`engram: watch error: ${e instanceof Error ? e.message : String(e)}\n`),
    });
    io.stderr.write(`watching ${engine.repo} (Ctrl-C stops)\n`);
    await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
    await watcher.close();
    return 0;
  });
};
