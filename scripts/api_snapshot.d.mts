// Types for scripts/api_snapshot.mjs, for the tests that import it.

/** api/faultline.api.md, absolute. */
export declare const SNAPSHOT_PATH: string;
/** The command that rewrites the snapshot. */
export declare const UPDATE_COMMAND: string;
/** The public API as text (what api/faultline.api.md holds). */
export declare function apiSnapshot(): string;
/** A line-based unified diff of two texts; "" when they are equal. */
export declare function unifiedDiff(
  a: string,
  b: string,
  fromName?: string,
  toName?: string,
  context?: number,
): string;
/** "" when the source's API matches the snapshot, else a message with a diff. */
export declare function checkSnapshot(
  options?: { snapshotPath?: string; current?: string },
): string;
