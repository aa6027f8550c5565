import { UserError } from '../../core/types.js';
import { writeJson, type Command } from '../io.js';
import { usageOf } from '../help.js';
import { withEngine } from '../open-engine.js';
import { parseCommand } from '../options.js';

/** `engram search "QUERY"`: blocks by vector and lexical recall. */
export const searchCommand: Command = async (argv, io) => {
  const { values, positionals } = parseCommand(argv, { k: { type: 'string', default: '10' } });
  const query = positionals.join(' ');
  if (query.trim() === '') throw new UserError(usageOf('search'));
  return withEngine(values, io, async (engine) => {
    const results = await engine.search(query, Number(values.k));
    if (values.json) writeJson(io, { results });
    else if (results.length === 0) io.stdout.write('no results (is the workspace indexed? run engram index)\n');
    else for (const r of results) io.stdout.write(`${r.score.toFixed(4)}  ${r.path}:${r.startLine}-${r.endLine}  ${r.blockId}\n`);
    return 0;
  });
};
