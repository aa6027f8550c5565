export * from './record.js';
export * from './store.js';
export * from './export.js';
