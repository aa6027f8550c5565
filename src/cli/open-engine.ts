import { Engine } from '../core/engine.js';
import type { CliIO } from './io.js';
import { engineOptions, type CommonValues } from './options.js';

/** Opens the engine for one command and always closes it (the store holds a lock). */
export async function withEngine<T>(values: CommonValues, io: CliIO, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.open(engineOptions(values, io));
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}
