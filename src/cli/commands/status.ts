import { writeJson, type Command } from '../io.js';
import { withEngine } from '../open-engine.js';
import { parseCommand } from '../options.js';
import { compact } from '../progress.js';

/** `engram status`: files, blocks, tokens, skipped files by reason, store size, last update. */
export const statusCommand: Command = async (argv, io) => {
  const { values } = parseCommand(argv, {});
  return withEngine(values, io, async (engine) => {
    const s = await engine.status();
    if (values.json) {
      writeJson(io, s);
      return 0;
    }
    const skipped = Object.entries(s.skipped)
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ');
    io.stdout.write(
      [
        `repo:       ${engine.repo}`,
        `store:      ${engine.storeDir} (${compact(s.storeBytes)}B)`,
        `files:      ${s.files}`,
        `blocks:     ${s.blocks}`,
        `tokens:     ${compact(s.tokens)}`,
        `skipped:    ${skipped || 'none'}`,
        `compressor: ${s.compressor ?? 'none yet'}`,
        `updated:    ${s.updatedAt ?? 'never (run engram index)'}`,
      ].join('\n') + '\n',
    );
    return 0;
  });
};
