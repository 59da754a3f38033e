import type { PollPacing } from '../operations/provider-operation.ts';

/**
 * When to poll an asynchronous provider job next. Every poll is three state transitions (Wait,
 * Poll, Choice), so a fixed short interval makes long jobs expensive and a fixed long one makes
 * short jobs slow. The wait follows the provider's own progress instead: a job that reported
 * `progress` p% after `elapsed` seconds has about elapsed × (100 − p) / p seconds to go, and the
 * next poll comes after half of that, so the estimate is checked again before it runs out. Without
 * progress, the first polls wait out the provider's typical duration, then the waits grow. The
 * wait always stays within the provider's bounds (its rate guidance below, a ceiling above), and
 * the last wait before the deadline ends just after it, so a stuck job fails on time.
 */

/** Used for a provider operation that states no pacing of its own. */
export const DEFAULT_POLL_PACING: PollPacing = { typicalSeconds: 20, minWaitSeconds: 2, maxWaitSeconds: 30 };

/** The share of the estimated remaining time to wait before looking again. */
const REMAINING_SHARE = 0.5;
/** Without progress, each wait past the typical duration is this much longer than the last. */
const GROWTH = 1.5;

export interface PollMoment {
  /** Seconds since the job was submitted. */
  elapsedSeconds: number;
  /** Seconds until the job's deadline (negative once past it). */
  secondsToDeadline: number;
  /** The progress the last poll reported (0–100), if any. */
  progress?: number | undefined;
  /** The provider's own suggestion for the wait, if it gave one. */
  providerWaitSeconds?: number | undefined;
  /** The wait before the poll that just ran. */
  previousWaitSeconds: number;
}

/** The wait before the first poll: half the provider's typical duration. */
export function firstPollWait(pacing: PollPacing): number {
  return clamp(pacing, pacing.typicalSeconds / 2);
}

/** The wait before the next poll, in whole seconds (a Wait state's SecondsPath takes integers). */
export function nextPollWait(pacing: PollPacing, moment: PollMoment): number {
  const { elapsedSeconds, progress, providerWaitSeconds, previousWaitSeconds } = moment;
  let wanted: number;
  if (providerWaitSeconds !== undefined) {
    wanted = providerWaitSeconds;
  } else if (progress !== undefined && progress > 0 && progress < 100) {
    wanted = ((elapsedSeconds * (100 - progress)) / progress) * REMAINING_SHARE;
  } else if (elapsedSeconds < pacing.typicalSeconds) {
    wanted = pacing.typicalSeconds - elapsedSeconds;
  } else {
    wanted = previousWaitSeconds * GROWTH;
  }
  const wait = clamp(pacing, wanted);
  // Never sleep far past the deadline: the poll after it fails the job as timed out.
  const toDeadline = Math.ceil(moment.secondsToDeadline) + 1;
  return wait > toDeadline ? Math.max(pacing.minWaitSeconds, toDeadline) : wait;
}

function clamp(pacing: PollPacing, seconds: number): number {
  const bounded = Math.min(pacing.maxWaitSeconds, Math.max(pacing.minWaitSeconds, seconds));
  // Whole seconds, rounded up so the floor (a provider's rate rule) is never undercut.
  return Math.ceil(Number.isFinite(bounded) ? bounded : pacing.minWaitSeconds);
}
