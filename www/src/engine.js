// Replaced by the build with a re-export of the package's browser entry.
export * from './pkg/linegate.js';
