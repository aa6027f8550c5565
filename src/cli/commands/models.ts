// `engram models list [--json]` and `engram models pull REPO_ID [--revision R]`.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pullModel, type PullProgress } from '../../core/models/download.js';
import { modelsCacheDir, hubEndpoint } from '../../core/models/paths.js';
import { detectCuda } from '../../core/models/providers.js';
import { listModels } from '../../core/models/registry.js';
import { CancelledError, UserError } from '../../core/types.js';
import { usageOf } from '../help.js';
import { writeJson, type CliIO, type Command } from '../io.js';

const USAGE = `${usageOf('models')}\n`;

export const modelsCommand: Command = async (argv, io) => {
  try {
    const [sub, ...rest] = argv;
    if (sub === 'list') return await list(rest, io);
    if (sub === 'pull') return await pull(rest, io);
    if (sub === undefined || sub === '--help' || sub === 'help') {
      (sub ? io.stdout : io.stderr).write(USAGE);
      return sub ? 0 : 1;
    }
    throw new UserError(`unknown models subcommand "${sub}"\n${USAGE}`);
  } catch (err) {
    if (err instanceof UserError) {
      io.stderr.write(`engram: ${err.message}\n`);
      return 1;
    }
    if (err instanceof CancelledError) {
      io.stderr.write('engram: cancelled\n');
      return 2;
    }
    io.stderr.write(`engram: ${(err as Error).message ?? String(err)}\n`);
    return 2;
  }
};

function parse<O extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, repo: { type: 'string' }, store: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UserError(`${(err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '')}\n${USAGE}`);
  }
}

async function list(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean', default: false }, 'models-dir': { type: 'string' } });
  if (positionals.length) throw new UserError(`models list takes no arguments\n${USAGE}`);
  const cacheDir = resolve(io.cwd, modelsCacheDir(io.env));
  const shipped = values['models-dir'] as string | undefined;
  const models = listModels({ env: io.env, cacheDir, ...(shipped ? { shippedDir: resolve(io.cwd, shipped) } : {}) });
  const cuda = detectCuda();
  if (values.json) {
    writeJson(io, { cacheDir, cuda, models });
    return 0;
  }
  if (!models.length) io.stdout.write(`no models installed (cache: ${cacheDir})\n`);
  for (const m of models) {
    const size = `${(m.bytes / 2 ** 20).toFixed(1)} MiB`;
    io.stdout.write(
      `${m.name}\t${m.role ?? '-'}\t${m.version ?? '-'}\t${m.architecture ?? '-'}\t${m.source}\t${size}\t${m.provider}${m.problem ? `\tPROBLEM: ${m.problem}` : ''}\n`,
    );
  }
  io.stderr.write(`provider: ${cuda.usable ? 'cuda' : 'cpu'} — ${cuda.message}\n`);
  return 0;
}

async function pull(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, {
    revision: { type: 'string' },
    include: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UserError(`models pull takes one REPO_ID\n${USAGE}`);
  const repoId = positionals[0]!;
  const cacheDir = resolve(io.cwd, modelsCacheDir(io.env));
  let last = 0;
  const onProgress = (p: PullProgress): void => {
    const now = Date.now();
    if (now - last < 250 && p.bytesDone < p.bytesTotal) return;
    last = now;
    const pct = p.bytesTotal ? ((100 * p.bytesDone) / p.bytesTotal).toFixed(1) : '?';
    io.stderr.write(`\rpulling ${repoId}: ${pct}% (${(p.bytesDone / 2 ** 20).toFixed(1)}/${(p.bytesTotal / 2 ** 20).toFixed(1)} MiB) ${p.file}\x1b[K`);
  };
  const r = await pullModel(repoId, {
    cacheDir,
    baseUrl: hubEndpoint(io.env),
    env: io.env,
    signal: io.signal,
    onProgress,
    ...(values.revision ? { revision: values.revision as string } : {}),
    ...(values.include ? { include: values.include as string[] } : {}),
  });
  io.stderr.write('\n');
  if (values.json) writeJson(io, r);
  else io.stdout.write(`${r.repoId}@${r.commit ?? r.revision}: ${r.files.length} files in ${r.dir}\n`);
  return 0;
}
