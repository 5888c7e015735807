// The order's own types: the order, its line, its address, its hold, fulfilment and archive
// record, the CreateOrder command and the payload of each event. Written once, here; the wire
// schemas (src/contracts/schemas.ts) are built to match them and prove at compile time that
// they do, and the domain imports nothing from there. Types only, no code: the enums they take
// their values from are the lifecycle's (./lifecycle.ts, which uses these types in turn; type
// imports are erased, so no module loads the other), the limits on them the order's (./order.ts).
// Type aliases rather than interfaces, as TypeBox's Static types are (they convert to Record<string, unknown>).
import type {
  CancellationReason,
  DeliveryMethod,
  EndedStatus,
  FulfilmentPriority,
  HoldReason,
  OrderStatus,
  ReleaseTarget,
  RetentionCategory,
} from './lifecycle.js';

/** An order line: amounts in minor units. */
export type OrderItem = {
  productId: string;
  quantity: number;
  unitPrice: number;
};

/** The catalog's delivery address (OrderDeliveryAddressChanged). */
export type DeliveryAddress = {
  recipientName: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  countryCode: string;
};

/** The open hold, while the order is ON_HOLD. */
export type Hold = {
  holdId: string;
  reason: HoldReason;
  ownerTeam: string;
  customerMessage: string | null;
  reviewBy: string;
  placedAt: string;
  /** reviewBy passed with the order still on this hold. */
  overdue: boolean;
};

export type Fulfilment = {
  fulfilmentId: string;
  warehouseId: string;
  priority: FulfilmentPriority;
  deliveryMethod: DeliveryMethod;
  estimatedDispatchAt: string | null;
  itemCount: number;
  startedAt: string;
};

/** What the archival of an ended order records. */
export type ArchiveRecord = {
  terminalStatus: EndedStatus;
  terminalAt: string;
  retentionCategory: RetentionCategory;
  archiveReference: string;
  recordChecksum: string;
  archivedAt: string;
};

/** Command to create a new order from a checked-out cart (the catalog's, plus our address and method). */
export type CreateOrder = {
  cartId: string;
  customerId: string;
  items: OrderItem[];
  /** In minor units. */
  total: number;
  currency: string;
  paymentAuthorizationId?: string;
  deliveryAddress?: DeliveryAddress;
  deliveryMethod?: DeliveryMethod;
};

/** The order: the catalog's GetOrder response, its extras and the full lifecycle's fields. */
export type Order = {
  orderId: string;
  customerId: string;
  status: OrderStatus;
  items: OrderItem[];
  /** In minor units. */
  total: number;
  currency: string;
  createdAt: string;
  cartId: string;
  paymentAuthorizationId: string | null;
  updatedAt: string;
  completedAt: string | null;
  cancelledAt: string | null;
  cancellationReason: CancellationReason | null;
  /** Raised by one with every amendment. */
  revision: number;
  confirmationNumber: string | null;
  confirmedAt: string | null;
  inventoryReservationId: string | null;
  deliveryMethod: DeliveryMethod | null;
  deliveryAddress: DeliveryAddress | null;
  /** Raised by one with every change of the address. */
  addressRevision: number;
  promotionCode: string | null;
  hold: Hold | null;
  fulfilment: Fulfilment | null;
  /** Archived as LEGAL_HOLD, whatever its terminal status. */
  legalHold: boolean;
  archive: ArchiveRecord | null;
};

// ---- Event payloads (the catalog v1.0.0's and its head AsyncAPI's) ----------------------

export type OrderCreated = {
  orderId: string;
  customerId: string;
  total: number;
  currency: string;
  status: 'created';
  /** The catalog names the product `sku`. */
  items: { sku: string; quantity: number; unitPrice: number }[];
  createdAt: string;
};

export type OrderCompleted = {
  orderId: string;
  customerId: string;
  completedAt: string;
};

export type OrderCancelled = {
  orderId: string;
  customerId?: string;
  reason: CancellationReason;
  cancelledAt: string;
};

export type OrderConfirmed = {
  orderId: string;
  customerId: string;
  confirmationNumber: string;
  paymentAuthorizationId?: string;
  inventoryReservationId?: string;
  total: number;
  currency: string;
  confirmedAt: string;
};

export type OrderAmended = {
  orderId: string;
  revision: number;
  changedFields: ('items' | 'deliveryAddress' | 'deliveryMethod' | 'promotionCode')[];
  previousTotal: number;
  newTotal: number;
  currency: string;
  amendedBy: string;
  reason?: string;
  amendedAt: string;
};

export type OrderPlacedOnHold = {
  orderId: string;
  holdId: string;
  reason: HoldReason;
  ownerTeam: string;
  customerMessage?: string;
  reviewBy: string;
  placedAt: string;
};

export type OrderHoldReleased = {
  orderId: string;
  holdId: string;
  previousReason: HoldReason;
  resolution: string;
  releasedBy: string;
  nextStatus: ReleaseTarget;
  releasedAt: string;
};

export type OrderFulfilmentStarted = {
  orderId: string;
  fulfilmentId: string;
  warehouseId: string;
  itemCount: number;
  priority: FulfilmentPriority;
  deliveryMethod: DeliveryMethod;
  estimatedDispatchAt?: string;
  startedAt: string;
};

export type OrderStatusChanged = {
  orderId: string;
  /** Nothing leaves ARCHIVED. */
  previousStatus: Exclude<OrderStatus, 'ARCHIVED'>;
  /** Nothing enters CREATED. */
  newStatus: Exclude<OrderStatus, 'CREATED'>;
  sequence: number;
  changeReason?: string;
  correlationId?: string;
  changedAt: string;
};

export type OrderDeliveryAddressChanged = {
  orderId: string;
  addressRevision: number;
  previousPostalCode: string;
  deliveryAddress: DeliveryAddress;
  changedBy: string;
  changedAt: string;
};

/** The archive record, with its order's id. */
export type OrderArchived = { orderId: string } & ArchiveRecord;

/** Each event's payload, by its type (its `ce_type`). */
export type OrderEventPayloads = {
  OrderCreated: OrderCreated;
  OrderConfirmed: OrderConfirmed;
  OrderAmended: OrderAmended;
  OrderPlacedOnHold: OrderPlacedOnHold;
  OrderHoldReleased: OrderHoldReleased;
  OrderFulfilmentStarted: OrderFulfilmentStarted;
  OrderStatusChanged: OrderStatusChanged;
  OrderDeliveryAddressChanged: OrderDeliveryAddressChanged;
  OrderArchived: OrderArchived;
  OrderCompleted: OrderCompleted;
  OrderCancelled: OrderCancelled;
};
export type OrderEventType = keyof OrderEventPayloads;
export type OrderEventPayload = OrderEventPayloads[OrderEventType];
/** Every event type published on ordering.orders: the lifecycle's and ours beyond the catalog. */
export type PublishedEventType = OrderEventType | 'CustomerDataErased';
