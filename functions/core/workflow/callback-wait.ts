import type { PollPacing } from '../operations/provider-operation.ts';

/**
 * How long an execution waits for a provider's webhook before it polls anyway (the
 * WaitForProviderCallback state's TimeoutSecondsPath). The webhook is the fast path; the timeout
 * is the safety net for one that never comes, so it is the expected remaining time by the same
 * estimate poll-schedule.ts uses (elapsed × (100 − p) / p from the provider's progress; without
 * progress, the rest of the typical duration, then growing), never shorter than the longest poll
 * wait (a shorter token wait would cost more transitions than polling) and ending just after the
 * deadline, so a stuck job still fails on time.
 */

const GROWTH = 1.5;

export interface CallbackMoment {
  elapsedSeconds: number;
  secondsToDeadline: number;
  progress?: number | undefined;
  /** The timeout of the wait that just ended, if any. */
  previousTimeoutSeconds?: number | undefined;
}

export function callbackTimeout(pacing: PollPacing, moment: CallbackMoment): number {
  const { elapsedSeconds, progress, previousTimeoutSeconds } = moment;
  let wanted: number;
  if (progress !== undefined && progress > 0 && progress < 100) {
    wanted = (elapsedSeconds * (100 - progress)) / progress;
  } else if (elapsedSeconds < pacing.typicalSeconds) {
    wanted = pacing.typicalSeconds - elapsedSeconds;
  } else {
    wanted = (previousTimeoutSeconds ?? pacing.typicalSeconds) * GROWTH;
  }
  const floor = Math.max(1, pacing.maxWaitSeconds);
  const bounded = Number.isFinite(wanted) ? Math.max(floor, wanted) : floor;
  const toDeadline = Math.max(1, Math.ceil(moment.secondsToDeadline) + 1);
  // Step Functions takes whole seconds (at least 1) for TimeoutSecondsPath.
  return Math.max(1, Math.min(Math.ceil(bounded), toDeadline));
}
