import { writeJson, type Command } from '../io.js';
import { withEngine } from '../open-engine.js';
import { parseCommand } from '../options.js';
import { progressPrinter } from '../progress.js';
import { compact } from '../progress.js';

/** `engram index`: builds or refreshes the store; progress on stderr. */
export const indexCommand: Command = async (argv, io) => {
  const { values } = parseCommand(argv, { quiet: { type: 'boolean', default: false } });
  return withEngine(values, io, async (engine) => {
    const report = await engine.index({
      signal: io.signal,
      onProgress: values.quiet ? undefined : progressPrinter(io.stderr),
    });
    if (values.json) writeJson(io, { ...report, store: engine.storeDir });
    else {
      io.stdout.write(
        `${report.filesIndexed} files indexed, ${report.filesUnchanged} unchanged, ${report.filesDeleted} removed, ` +
          `${report.filesSkipped} skipped · ${report.blocksWritten} blocks · ${compact(report.tokens)} tokens · ${(report.ms / 1000).toFixed(1)}s\n` +
          `store: ${engine.storeDir}\n`,
      );
    }
    return 0;
  });
};
