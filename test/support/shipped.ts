// A real engine over a fixture workspace with the models Engram ships (the extractive reader
// and the gate), as the CLI and the extension run it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/core/engine.js';
import { openGate, type GateScorer } from '../../src/core/gate/index.js';
import { readManifest, shippedModelsDir } from '../../src/core/models/registry.js';
import { ExtractiveReasoner, type Reasoner } from '../../src/core/reason/index.js';
import type { AskResult } from '../../src/core/types.js';
import { tempRepo, writeFiles } from './repo.js';

export interface ShippedEngine {
  engine: Engine;
  reader: Reasoner;
  gate: GateScorer | null;
  /** Asks in gated mode with the shipped reader and gate. */
  ask: (question: string) => Promise<AskResult>;
  close: () => Promise<void>;
}

/** Indexes `files` into a temp store and loads the shipped reader (CPU, one thread) and gate. */
export async function shippedEngine(files: Record<string, string>): Promise<ShippedEngine> {
  const tmp = tempRepo();
  writeFiles(join(tmp.dir, 'repo'), files);
  const engine = await Engine.open({ repo: join(tmp.dir, 'repo'), store: join(tmp.dir, 'store') });
  await engine.index();
  const entry = readManifest(shippedModelsDir()).find((m) => m.name === 'engram-reader')!;
  const reader = await ExtractiveReasoner.load(join(shippedModelsDir(), entry.path), { provider: 'cpu', threads: 1 });
  const gate = await openGate(undefined);
  assert.ok(gate, 'the shipped gate');
  return {
    engine,
    reader,
    gate,
    ask: (question) => engine.ask(question, { mode: 'gated', reasoner: reader, gate }),
    close: async () => {
      await reader.close();
      await gate.close();
      await engine.close();
      tmp.cleanup();
    },
  };
}

/** Runs `use` with a shipped engine over `files`, closed afterwards whatever happens. */
export async function withShippedEngine<T>(files: Record<string, string>, use: (shipped: ShippedEngine) => Promise<T>): Promise<T> {
  const shipped = await shippedEngine(files);
  try {
    return await use(shipped);
  } finally {
    await shipped.close();
  }
}
