// The bare-Temporal baseline's workflow bundle. It is the order workflow itself, so the
// baseline has exactly its shape (update-with-start, the same activities in the same order
// and of the same kind, local or not, the same transition Updates, the search-attribute
// upserts) and follows every change to it. Only the activities differ: bench/bare-worker.ts
// registers ones that do no I/O. Bundled on its own, apart from the order worker's bundle.
export { orderWorkflow } from '../src/workflows/order-workflow.js';
