// Entry point of the workflow bundle: every workflow the worker runs.
export { orderArchiveSweep } from './archive-sweep.js';
export { orderWorkflow } from './order-workflow.js';
