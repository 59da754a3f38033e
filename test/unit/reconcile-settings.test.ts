import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GENERATION_EXECUTION_TIMEOUT_SECONDS, getConfig, resetConfig } from '../../functions/core/config.ts';
import { executionMayFinish } from '../../functions/core/tasks/reconcile.ts';

/** The stuck-task reconciler's deadlines and its reading of an execution's status. */

const environmentBefore = { ...process.env };

afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in environmentBefore)) delete process.env[key];
  Object.assign(process.env, environmentBefore);
  resetConfig();
});

describe('stuck-task deadlines', () => {
  it('know the state machine timeout the ASL sets', () => {
    const asl = JSON.parse(
      readFileSync(new URL('../../state-machines/generation.asl.json', import.meta.url), 'utf8'),
    ) as { TimeoutSeconds?: number };
    expect(asl.TimeoutSeconds).toBe(GENERATION_EXECUTION_TIMEOUT_SECONDS);
  });

  it('default to 5 minutes pending, the execution timeout + 10 minutes processing, 15 minutes rows', () => {
    for (const name of ['STUCK_PENDING_SECONDS', 'STUCK_PROCESSING_SECONDS', 'STUCK_ROWS_SECONDS']) {
      delete process.env[name];
    }
    resetConfig();
    const config = getConfig();
    expect(config.STUCK_PENDING_SECONDS).toBe(300);
    expect(config.STUCK_PROCESSING_SECONDS).toBe(GENERATION_EXECUTION_TIMEOUT_SECONDS + 600);
    expect(config.STUCK_ROWS_SECONDS).toBe(900);
    expect(config.SECRETS_TTL_SECONDS).toBe(300);
  });

  it('take 0 (tests: everything is due at once) and refuse a negative value, naming it', () => {
    process.env.STUCK_PENDING_SECONDS = '0';
    resetConfig();
    expect(getConfig().STUCK_PENDING_SECONDS).toBe(0);
    process.env.STUCK_ROWS_SECONDS = '-1';
    resetConfig();
    expect(() => getConfig()).toThrow(/Invalid configuration: STUCK_ROWS_SECONDS/);
  });
});

describe('an execution', () => {
  it('may still finish its task while running or waiting for a redrive, and not once ended or gone', () => {
    expect(executionMayFinish('RUNNING')).toBe(true);
    expect(executionMayFinish('PENDING_REDRIVE')).toBe(true);
    for (const status of ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const) {
      expect(executionMayFinish(status)).toBe(false);
    }
    expect(executionMayFinish(undefined)).toBe(false);
  });
});
