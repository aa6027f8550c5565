import { UserError } from '../../core/types.js';
import { writeJson, type Command } from '../io.js';
import { usageOf } from '../help.js';
import { withEngine } from '../open-engine.js';
import { parseCommand } from '../options.js';

/** `engram inspect ID|PATH:LINE`: the block, raw beside compressed. */
export const inspectCommand: Command = async (argv, io) => {
  const { values, positionals } = parseCommand(argv, {});
  const [target] = positionals;
  if (target === undefined || positionals.length > 1) throw new UserError(usageOf('inspect'));
  return withEngine(values, io, async (engine) => {
    const block = await engine.inspect(target);
    if (values.json) {
      writeJson(io, block);
      return 0;
    }
    const ratio = block.tokens > 0 ? (block.compressedTokens / block.tokens).toFixed(2) : '-';
    io.stdout.write(
      `${block.path}:${block.startLine}-${block.endLine}  ${block.lang}  id ${block.id}\n` +
        `symbols: ${block.symbols.join(', ') || '-'}\n` +
        `tokens: ${block.tokens} raw, ${block.compressedTokens} compressed (ratio ${ratio}) · model ${block.model}` +
        `${block.stale ? ' · STALE: the file changed since indexing' : ''}\n` +
        `\n--- raw ---\n${block.raw ?? '(file is gone)'}\n\n--- compressed ---\n${block.compressed}\n`,
    );
    return 0;
  });
};
