// Entry point of the workflow bundle: every workflow the worker runs.
export { orderWorkflow } from './order-workflow.js';
