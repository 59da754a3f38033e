import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { matchRoute } from '../../functions/api/routes.ts';
import { errorCodeFor, RETRYABLE_ERROR_NAMES } from '../../functions/core/errors.ts';
import { JOB_ID_PATTERN, newJobId } from '../../functions/core/tasks/job-id.ts';
import { failureMessage } from '../../functions/core/workflow/finish.ts';

describe('job ids', () => {
  it('contain the client task id, are URL-safe and valid execution names', () => {
    const id = newJobId('task-workspace-abc123');
    expect(id).toMatch(/^task-workspace-abc123-[A-Za-z0-9_-]{16}$/);
    expect(JOB_ID_PATTERN.test(id)).toBe(true);
    expect(newJobId('task-workspace-abc123')).not.toBe(id);
  });

  it('fit 80 characters and replace the colon execution names forbid', () => {
    const id = newJobId(`ws:${'x'.repeat(120)}`);
    expect(id.length).toBeLessThanOrEqual(80);
    expect(id.startsWith('ws_xxx')).toBe(true);
    expect(id).not.toContain(':');
  });
});

describe('routes', () => {
  it('matches canonical paths and aliases with their parameters', () => {
    expect(matchRoute('POST', '/generation/text-to-image')).toMatchObject({
      kind: 'route',
      pathParameters: { operation: 'text-to-image' },
    });
    expect(matchRoute('POST', '/generate/upscale/')).toMatchObject({
      kind: 'route',
      pathParameters: { operation: 'upscale' },
    });
    expect(matchRoute('GET', '/tasks/abc/status')).toMatchObject({
      kind: 'route',
      pathParameters: { jobId: 'abc' },
    });
  });

  it('tells a wrong method from an unknown path', () => {
    expect(matchRoute('DELETE', '/tasks/abc/status')).toEqual({ kind: 'method-not-allowed', allow: ['GET'] });
    expect(matchRoute('GET', '/tasks/abc')).toEqual({ kind: 'not-found' });
  });
});

describe('failure messages', () => {
  it('read the message from an AWS Lambda Cause', () => {
    const cause = JSON.stringify({
      errorType: 'ProviderRejectedError',
      errorMessage: 'OpenAI rejected it',
      trace: [],
    });
    expect(failureMessage({ Error: 'ProviderRejectedError', Cause: cause })).toBe('OpenAI rejected it');
  });

  it('read the message the local runner passes', () => {
    expect(failureMessage({ Error: 'ContentModeratedError', Cause: 'refused' })).toBe('refused');
  });

  it('say timed out for a state timeout and hide internal details', () => {
    expect(failureMessage({ Error: 'States.Timeout', Cause: '' })).toMatch(/timed out/);
    expect(failureMessage({ Error: 'TypeError', Cause: 'x is undefined' })).toBe(
      'The task failed because of an internal error; retrying may help',
    );
  });

  it('map error names to stable codes', () => {
    expect(errorCodeFor('ProviderTimeoutError')).toBe('provider_timeout');
    expect(errorCodeFor('States.Timeout')).toBe('provider_timeout');
    expect(errorCodeFor('InputTooLargeError')).toBe('input_too_large');
    expect(errorCodeFor('Lambda.ServiceException')).toBe('internal');
  });
});

describe('the state machine and the error vocabulary', () => {
  const definition = JSON.parse(readFileSync('state-machines/generation.asl.json', 'utf8')) as {
    States: Record<string, { Type: string; Retry?: { ErrorEquals: string[] }[]; Catch?: unknown[] }>;
  };

  it('retries every retryable error in each state that calls a provider', () => {
    for (const state of ['RunProvider', 'SubmitProviderJob', 'PollProviderJob']) {
      const retried = (definition.States[state]?.Retry ?? []).flatMap((retrier) => retrier.ErrorEquals);
      for (const name of RETRYABLE_ERROR_NAMES) expect(retried, `${state} retries ${name}`).toContain(name);
    }
  });

  it('catches every failure of a Task that can fail a task, so no task stays processing', () => {
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type !== 'Task' || name === 'FailTask') continue;
      expect(state.Catch?.length ?? 0, `${name} has a Catch`).toBeGreaterThan(0);
    }
  });
});
