// The in-memory store the HTTP tests use keeps the same contract as the real ones.
import { FakeStore } from './fake-job-store.js';
import { storeConformance } from './conformance.js';

storeConformance('FakeStore', async (_t, opts) => new FakeStore(opts));
