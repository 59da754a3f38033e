import { describe, expect, it } from 'vitest';
import { fluxPolling } from '../../functions/core/providers/flux/settings.ts';
import { tripoGenerationPolling } from '../../functions/core/providers/tripo/settings.ts';
import { callbackTimeout } from '../../functions/core/workflow/callback-wait.ts';

describe('callback wait timeouts', () => {
  it('waits the typical duration first, never less than the longest poll wait', () => {
    expect(callbackTimeout(tripoGenerationPolling, { elapsedSeconds: 0, secondsToDeadline: 1800 })).toBe(60);
    expect(callbackTimeout(fluxPolling, { elapsedSeconds: 0, secondsToDeadline: 600 })).toBe(30);
  });

  it('waits the remaining time estimated from progress', () => {
    // 20 % after 60 s: about 240 s to go.
    expect(
      callbackTimeout(tripoGenerationPolling, { elapsedSeconds: 60, secondsToDeadline: 1740, progress: 20 }),
    ).toBe(240);
  });

  it('grows without progress once past the typical duration', () => {
    expect(
      callbackTimeout(tripoGenerationPolling, {
        elapsedSeconds: 90,
        secondsToDeadline: 1710,
        previousTimeoutSeconds: 60,
      }),
    ).toBe(90);
  });

  it('ends just after the deadline, and is at least one second', () => {
    expect(
      callbackTimeout(tripoGenerationPolling, { elapsedSeconds: 60, secondsToDeadline: 100, progress: 1 }),
    ).toBe(101);
    expect(callbackTimeout(fluxPolling, { elapsedSeconds: 700, secondsToDeadline: -100 })).toBe(1);
  });
});
