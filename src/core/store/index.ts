export { MemoryStore, META_COMPRESSOR, META_RECALL_VECTORS, type StoreStats, type OpenOptions, type BlockInput, type FileWrite } from './memory-store.js';
export { defaultStoreDir, isUri } from './location.js';
export { termsOf, queryTerms } from './terms.js';
