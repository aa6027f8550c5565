export type { Compressor } from './compressor.js';
export { StructuralCompressor, compressText, type StructuralOptions } from './structural.js';
export { hashedVector } from './hashing.js';
export { subWords, stem, STOP_WORDS } from './identifiers.js';
