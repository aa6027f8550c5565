import { StructuralCompressor } from '../../src/core/compress/index.js';
import { MemoryStore } from '../../src/core/store/index.js';

/** Everything a store says about the workspace, in a comparable form. */
export async function storeSnapshot(dir: string): Promise<{ files: string[]; blocks: string[] }> {
  const store = await MemoryStore.open(dir, { dim: new StructuralCompressor().dim });
  try {
    await store.recover();
    const files = [...(await store.files()).values()].map((r) => `${r.path} ${r.hash} ${r.skip ?? ''} ${r.blocks}`).sort();
    const blocks: string[] = [];
    for await (const b of store.allBlocks()) blocks.push(`${b.id} ${b.path}:${b.startLine}-${b.endLine} ${b.hash} ${b.model} ${b.fileHash}`);
    return { files, blocks: blocks.sort() };
  } finally {
    await store.close();
  }
}
