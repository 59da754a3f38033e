import { setTripoClockTimeline, tripoCalls, tripoSandboxSettings } from '../../infra/local/sandbox/tripo.ts';

/**
 * Holds the Tripo simulator's clock still, so a task's progress changes only when a test moves it:
 * a task created now is queued for no time, then running for 100 s with progress rising with the
 * clock. A test that must see a task part-way (a progress bar, an onProgress callback) waits for
 * the create, moves the clock half-way, waits until it has seen the progress, then moves it past
 * the end: nothing depends on how fast the machine is. `resetTripoSandbox()` restores the clock.
 */
export interface HeldTripoClock {
  /** Resolves once the simulator has accepted a create on `/v3/generation/<endpoint>`. */
  created(endpoint: string): Promise<void>;
  /** Half-way through the running time: the next poll reads about 50%. */
  toHalfway(): void;
  /** Past the end: the next poll reads the task's outcome. */
  toEnd(): void;
}

const RUNNING_SECONDS = 100;

export function holdTripoClock(): HeldTripoClock {
  const start = Date.now();
  let now = start;
  tripoSandboxSettings.now = () => now;
  setTripoClockTimeline(0, RUNNING_SECONDS);
  return {
    async created(endpoint) {
      const wanted = `POST /v3/generation/${endpoint}`;
      while (!tripoCalls().some((call) => call.endpoint === wanted && call.status === 200)) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    toHalfway() {
      now = Math.max(now, start + (RUNNING_SECONDS / 2) * 1000);
    },
    toEnd() {
      now = Math.max(now, start + (RUNNING_SECONDS + 1) * 1000);
    },
  };
}
