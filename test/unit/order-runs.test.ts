// What `npm run ops -- migrate` reads from a retired run's history before replacing it from
// PostgreSQL: a replacement must never drop a transition that was in flight.
import { describe, expect, it } from 'vitest';
import { pendingWorkIn } from '../../src/temporal/order-runs.js';

type Event = Parameters<typeof pendingWorkIn>[0][number];

/**
 * A history from its events' attributes, numbered from 1 as the server numbers them. Plain
 * numbers where the protos say Long: the code reads ids with Number(), which takes both.
 */
const history = (...attributes: object[]): Event[] =>
  attributes.map((event, index) => ({ ...event, eventId: index + 1 })) as unknown as Event[];
/** One more event after `events`. */
const then = (events: Event[], attributes: object): Event[] => [...events, ...history(...events, attributes).slice(-1)];

const started = { workflowExecutionStartedEventAttributes: {} };
const taskScheduled = { workflowTaskScheduledEventAttributes: {} };
const taskStarted = { workflowTaskStartedEventAttributes: {} };
const taskCompleted = (startedEventId: number) => ({ workflowTaskCompletedEventAttributes: { startedEventId } });
const activityScheduled = { activityTaskScheduledEventAttributes: { activityType: { name: 'persistOrder' } } };
const activityCompleted = (scheduledEventId: number) => ({
  activityTaskCompletedEventAttributes: { scheduledEventId },
});

// 1 started, 2-4 first task, 5 persistOrder scheduled, 6 its result, 7-9 the task that took it.
const idle = history(
  started,
  taskScheduled,
  taskStarted,
  taskCompleted(3),
  activityScheduled,
  activityCompleted(5),
  taskScheduled,
  taskStarted,
  taskCompleted(8),
);

describe('pendingWorkIn', () => {
  it('finds nothing in flight when every input was taken and every activity ended', () => {
    expect(pendingWorkIn(idle)).toBeNull();
  });

  it('finds an activity still running', () => {
    expect(pendingWorkIn(idle.slice(0, 5))).toBe('1 activities in flight');
  });

  it('lets an activity result or a fired timer no task has taken yet pass: PostgreSQL has their work', () => {
    // A worker stopped after the activity ended: the replacement finds what it did in PostgreSQL.
    expect(pendingWorkIn(idle.slice(0, 6))).toBeNull();
    // A deadline came due: the replacement sets it again from PostgreSQL, already due.
    expect(pendingWorkIn(then(idle, { timerFiredEventAttributes: {} }))).toBeNull();
  });

  it('finds a signal that arrived while the last task ran, or after it', () => {
    const signal = { workflowExecutionSignaledEventAttributes: { signalName: 'cancelOrder' } };
    const duringTask = history(started, taskScheduled, taskStarted, signal, taskCompleted(3));
    expect(pendingWorkIn(duringTask)).toBe('a request its workflow has not yet taken');
    expect(pendingWorkIn(then(idle, signal))).toBe('a request its workflow has not yet taken');
  });

  it('finds an Update admitted but not yet taken', () => {
    expect(pendingWorkIn(then(idle, { workflowExecutionUpdateAdmittedEventAttributes: {} }))).toBe(
      'a request its workflow has not yet taken',
    );
  });

  it('finds an accepted Update not yet answered, and none once it is', () => {
    const accepted = { workflowExecutionUpdateAcceptedEventAttributes: { protocolInstanceId: 'update-1' } };
    const answered = { workflowExecutionUpdateCompletedEventAttributes: { meta: { updateId: 'update-1' } } };
    const withUpdate = history(started, taskScheduled, taskStarted, taskCompleted(3), accepted);
    expect(pendingWorkIn(withUpdate)).toBe('1 accepted Updates not yet answered');
    expect(pendingWorkIn(then(withUpdate, answered))).toBeNull();
  });

  it('finds a run whose first task never completed', () => {
    expect(pendingWorkIn(history(started, taskScheduled))).toBe('a request its workflow has not yet taken');
  });
});
