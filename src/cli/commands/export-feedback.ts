// `engram export-feedback OUT`: the local feedback file as TRL-ready JSONL files in OUT.
import { resolve } from 'node:path';
import { defaultFeedbackFile, exportFeedback, FeedbackStore } from '../../core/feedback/index.js';
import { UserError } from '../../core/types.js';
import { writeJson, type Command } from '../io.js';
import { usageOf } from '../help.js';
import { parseCommand } from '../options.js';

export const exportFeedbackCommand: Command = async (argv, io) => {
  const { values, positionals } = parseCommand(argv, { feedback: { type: 'string' } });
  const [out, ...extra] = positionals;
  if (!out || extra.length) throw new UserError(usageOf('export-feedback'));
  const file = values.feedback ? resolve(io.cwd, values.feedback) : defaultFeedbackFile(io.env);
  const { records, skipped } = await new FeedbackStore(file).readAll();
  if (!records.length) throw new UserError(`no feedback in ${file}`);
  const report = await exportFeedback(records, resolve(io.cwd, out));
  if (values.json) writeJson(io, { ...report, source: file, skipped });
  else {
    for (const f of report.files) io.stdout.write(`${f.path}: ${f.rows} rows\n`);
    if (skipped) io.stderr.write(`engram: skipped ${skipped} unreadable lines of ${file}\n`);
  }
  return 0;
};
