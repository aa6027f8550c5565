export type { Compressor } from './compressor.js';
export { StructuralCompressor, compressText, type StructuralOptions } from './structural.js';
export { ModelCompressor, type ModelCompressorInfo, type ModelCompressorOptions } from './model-compressor.js';
export { openCompressor, isStructural, type OpenCompressorOptions } from './open-compressor.js';
export { hashedVector } from './hashing.js';
export { subWords, stem, STOP_WORDS } from './identifiers.js';
export { anchoredLines, keptWords } from './anchors.js';
