// Code-aware chunking: files → Chunks at definition boundaries (see chunker.ts for the text/line rule).
export { Chunker, type ChunkOptions } from './chunker.js';
export { isProse, languageOf } from './languages.js';
export { grammarWasmPath } from './grammars.js';
