import type { Store } from '../src/store/ports.ts';

/** A Store that keeps nothing: for monitor tests that only care about timing and results. */
export const memoryStore = (): Store => ({
  canonicaliseUrls: async () => ({ rewritten: [], removed: [], unparsable: [] }),
  loadTargets: async () => [],
  upsertTarget: async () => { throw new Error('unused'); },
  updateData: async () => true,
  deleteTarget: async () => true,
  saveHealth: async () => {},
  recordTransition: async () => ({ entries: [], trimmed: [] }),
  outbox: { trim: async () => [], pending: async () => [], delivered: async () => {}, counts: async () => ({}), backlog: async () => ({}) },
  trouble: () => null,
  close: async () => {},
});
