import { describe, expect, it } from 'vitest';
import type { PollPacing } from '../../functions/core/operations/provider-operation.ts';
import { fluxPolling } from '../../functions/core/providers/flux/settings.ts';
import { firstPollWait, nextPollWait } from '../../functions/core/workflow/poll-schedule.ts';

/** The poll schedule on its own: the workflow tests count what it costs through the real ASL. */

const pacing: PollPacing = { typicalSeconds: 60, minWaitSeconds: 2, maxWaitSeconds: 60 };
const far = 3600;

describe('poll schedule', () => {
  it('waits half the typical duration before the first poll', () => {
    expect(firstPollWait(pacing)).toBe(30);
    expect(firstPollWait(fluxPolling)).toBe(5);
  });

  it('waits half the remaining time estimated from progress and elapsed time', () => {
    // 40% after 120 s: about 180 s to go; half of it is over the 60 s ceiling.
    expect(
      nextPollWait(pacing, {
        elapsedSeconds: 120,
        secondsToDeadline: far,
        progress: 40,
        previousWaitSeconds: 30,
      }),
    ).toBe(60);
    // 80% after 200 s: about 50 s to go.
    expect(
      nextPollWait(pacing, {
        elapsedSeconds: 200,
        secondsToDeadline: far,
        progress: 80,
        previousWaitSeconds: 60,
      }),
    ).toBe(25);
  });

  it('never goes below the floor or above the ceiling', () => {
    expect(
      nextPollWait(pacing, {
        elapsedSeconds: 5,
        secondsToDeadline: far,
        progress: 99,
        previousWaitSeconds: 2,
      }),
    ).toBe(2);
    expect(
      nextPollWait(pacing, {
        elapsedSeconds: 500,
        secondsToDeadline: far,
        progress: 1,
        previousWaitSeconds: 60,
      }),
    ).toBe(60);
    // A provider's own suggestion is bounded the same way.
    expect(
      nextPollWait(fluxPolling, {
        elapsedSeconds: 3,
        secondsToDeadline: far,
        providerWaitSeconds: 0.5,
        previousWaitSeconds: 5,
      }),
    ).toBe(2);
  });

  it('without progress, waits out the typical duration, then waits grow', () => {
    expect(
      nextPollWait(pacing, { elapsedSeconds: 30, secondsToDeadline: far, previousWaitSeconds: 30 }),
    ).toBe(30);
    expect(
      nextPollWait(pacing, {
        elapsedSeconds: 60,
        secondsToDeadline: far,
        progress: 0,
        previousWaitSeconds: 30,
      }),
    ).toBe(45);
  });

  it('ends the last wait just after the deadline, never before the floor', () => {
    expect(
      nextPollWait(pacing, { elapsedSeconds: 900, secondsToDeadline: 10.2, previousWaitSeconds: 60 }),
    ).toBe(12);
    expect(nextPollWait(pacing, { elapsedSeconds: 900, secondsToDeadline: 0, previousWaitSeconds: 60 })).toBe(
      2,
    );
  });
});
