// Moved to store/replica-store.ts (the store owns its replication port); re-exported
// here so existing imports keep working.
export type { RecordChange, RecordChangeOrigin, RecordListener, ReplicaStore } from '../store/replica-store.js';
