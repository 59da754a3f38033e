import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyBflSignature, verifyTripoSignature } from '../../functions/core/webhooks/signature.ts';

/** Tripo's scheme, written out here from its description (docs/providers/tripo.md, Webhooks). */
function tripoV1(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

const SECRET = 'whsec_test_secret_one';
const OTHER = 'whsec_test_secret_two';
const BODY = '{"id":"t1:task.completed","type":"task.completed","data":{"task_id":"t1"}}';
const NOW = 1_780_000_000;

describe('Tripo webhook signatures', () => {
  it('accepts a delivery signed with the secret', () => {
    const header = `t=${NOW},v1=${tripoV1(SECRET, NOW, BODY)}`;
    expect(verifyTripoSignature(header, Buffer.from(BODY), [SECRET], NOW)).toEqual({ ok: true });
  });

  it('keys the HMAC with the whole secret, whsec_ prefix included', () => {
    const header = `t=${NOW},v1=${tripoV1(SECRET.slice('whsec_'.length), NOW, BODY)}`;
    expect(verifyTripoSignature(header, Buffer.from(BODY), [SECRET], NOW).ok).toBe(false);
  });

  it('refuses a tampered body', () => {
    const header = `t=${NOW},v1=${tripoV1(SECRET, NOW, BODY)}`;
    const tampered = BODY.replace('t1', 't2');
    expect(verifyTripoSignature(header, Buffer.from(tampered), [SECRET], NOW)).toMatchObject({ ok: false });
  });

  it('refuses a delivery signed with another secret', () => {
    const header = `t=${NOW},v1=${tripoV1(OTHER, NOW, BODY)}`;
    expect(verifyTripoSignature(header, Buffer.from(BODY), [SECRET], NOW).ok).toBe(false);
  });

  it('refuses a timestamp more than 300 s from now, either way, and accepts one at 300 s', () => {
    for (const t of [NOW - 301, NOW + 301]) {
      const header = `t=${t},v1=${tripoV1(SECRET, t, BODY)}`;
      expect(verifyTripoSignature(header, Buffer.from(BODY), [SECRET], NOW)).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/tolerance/),
      });
    }
    const edge = `t=${NOW - 300},v1=${tripoV1(SECRET, NOW - 300, BODY)}`;
    expect(verifyTripoSignature(edge, Buffer.from(BODY), [SECRET], NOW).ok).toBe(true);
  });

  it('accepts a rotation: two v1 values, one of them by the configured secret', () => {
    const header = `t=${NOW},v1=${tripoV1(OTHER, NOW, BODY)},v1=${tripoV1(SECRET, NOW, BODY)}`;
    expect(verifyTripoSignature(header, Buffer.from(BODY), [SECRET], NOW).ok).toBe(true);
    // And the other way: our side holds both secrets while Tripo signs with the new one only.
    const single = `t=${NOW},v1=${tripoV1(OTHER, NOW, BODY)}`;
    expect(verifyTripoSignature(single, Buffer.from(BODY), [SECRET, OTHER], NOW).ok).toBe(true);
  });

  it('refuses a missing or malformed header, and any header when no secret is set', () => {
    expect(verifyTripoSignature(undefined, Buffer.from(BODY), [SECRET], NOW)).toMatchObject({ ok: false });
    expect(verifyTripoSignature('', Buffer.from(BODY), [SECRET], NOW).ok).toBe(false);
    expect(
      verifyTripoSignature(`v1=${tripoV1(SECRET, NOW, BODY)}`, Buffer.from(BODY), [SECRET], NOW).ok,
    ).toBe(false);
    expect(verifyTripoSignature(`t=${NOW}`, Buffer.from(BODY), [SECRET], NOW).ok).toBe(false);
    expect(verifyTripoSignature(`t=${NOW},v1=zz`, Buffer.from(BODY), [SECRET], NOW).ok).toBe(false);
    const header = `t=${NOW},v1=${tripoV1(SECRET, NOW, BODY)}`;
    expect(verifyTripoSignature(header, Buffer.from(BODY), [], NOW).ok).toBe(false);
  });
});

describe('BFL webhook signatures', () => {
  const sign = (secret: string, body: string) =>
    `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

  it('accepts sha256=<hex HMAC of the raw body> with the request secret', () => {
    expect(verifyBflSignature(sign('s3cret', BODY), Buffer.from(BODY), 's3cret')).toEqual({ ok: true });
  });

  it('refuses another secret, a tampered body, a missing header or another format', () => {
    expect(verifyBflSignature(sign('other', BODY), Buffer.from(BODY), 's3cret').ok).toBe(false);
    expect(verifyBflSignature(sign('s3cret', BODY), Buffer.from(`${BODY} `), 's3cret').ok).toBe(false);
    expect(verifyBflSignature(undefined, Buffer.from(BODY), 's3cret').ok).toBe(false);
    expect(verifyBflSignature(sign('s3cret', BODY).slice(7), Buffer.from(BODY), 's3cret').ok).toBe(false);
  });
});
