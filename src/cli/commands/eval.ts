// `engram eval --qa FILE.jsonl`: accuracy, citation precision/recall, evidence hit rate,
// gate recall@k, latency and peak memory over a QA file (DESIGN.md).
import { resolve } from 'node:path';
import { readQaFile } from '../../core/ask/index.js';
import { UserError } from '../../core/types.js';
import { writeJson, type Command } from '../io.js';
import { usageOf } from '../help.js';
import { withEngine } from '../open-engine.js';
import { parseCommand } from '../options.js';
import { ASK_OPTIONS, askSetup } from './ask.js';

export const evalCommand: Command = async (argv, io) => {
  const { values } = parseCommand(argv, { ...ASK_OPTIONS, qa: { type: 'string' }, k: { type: 'string', default: '8' }, limit: { type: 'string' } });
  if (!values.qa) throw new UserError(usageOf('eval'));
  const k = Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw new UserError(`--k must be an integer from 1 to 1000, got ${values.k}`);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UserError(`--limit must be a positive integer, got ${values.limit}`);
  const items = (await readQaFile(resolve(io.cwd, values.qa))).slice(0, limit);
  return withEngine(values, io, async (engine) => {
    const { options, close } = await askSetup(values, io, engine);
    try {
      const report = await engine.eval(items, {
        ...options,
        k,
        onQuestion: (q, done, total) => io.stderr.write(`engram: ${done}/${total} ${q.contains ? 'ok ' : q.evidenceHit ? 'ev ' : 'no '} ${q.ms} ms  ${q.id}${q.error ? ` (${q.error})` : ''}\n`),
      });
      if (values.json) writeJson(io, report);
      else {
        const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
        io.stdout.write(
          `questions          ${report.questions} (mode ${options.mode}, reasoner ${options.reasoner.id}, gate ${options.gate?.id ?? 'recall-rank'})\n` +
            `accuracy (exact)   ${pct(report.accuracy)}\n` +
            `containment        ${pct(report.containment)}\n` +
            `confident answers  ${pct(report.confidentRate)} (a low-confidence answer is never counted correct)\n` +
            `evidence hit       ${pct(report.evidenceHitRate)} (cited lines, confident or not, overlap the expected evidence)\n` +
            `citation P / R     ${pct(report.citationPrecision)} / ${pct(report.citationRecall)}\n` +
            `gate recall@${report.k}      ${pct(report.gateRecallAtK)}\n` +
            `evidence kept      ${pct(report.evidenceKept)} of the evidence's words in its blocks' compressed text (${pct(report.blockWordsKept)} of all their words)\n` +
            `ms per question    ${report.msPerQuestion}\n` +
            `blocks / tokens    ${report.blocksReadPerQuestion} / ${report.tokensReadPerQuestion} per question\n` +
            `peak RSS           ${report.peakRssMb} MB (${report.readyRssMb} MB with the engine open and its models loaded, before the first question)\n`,
        );
      }
      return 0;
    } finally {
      await close();
    }
  });
};
