// The yardstick's contract, shared by its workflow, its worker and the bench's client.
// Frozen with the workflow (see workflow.ts): a change here makes earlier figures incomparable.
import { defineSignal } from '@temporalio/workflow';

export interface YardstickOrder {
  orderId: string;
  customerId: string;
  currency: string;
  items: { productId: string; quantity: number; unitPrice: number }[];
  total: number;
}

/** How the order ends: the signal an operator or checkout sends in the classic sample. */
export type YardstickEnding = { command: 'complete' } | { command: 'cancel'; reason: string };

export const endOrderSignal = defineSignal<[YardstickEnding]>('endOrder');

/** The four activities, each returning at once: what the real ones would do, minus the I/O. */
export interface YardstickActivities {
  persistOrder(order: YardstickOrder): Promise<{ status: 'CREATED' }>;
  publishOrderEvent(event: { orderId: string; type: string }): Promise<void>;
  persistTransition(orderId: string, ending: YardstickEnding): Promise<{ status: 'COMPLETED' | 'CANCELLED' }>;
  publishOrderEvents(events: { orderId: string; types: string[] }): Promise<void>;
}
