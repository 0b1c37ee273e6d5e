import { describe, expect, it } from 'vitest';
import { dnsLabel, labelValue, parsePodId, podId, selector } from './names.js';
import { rfc3339Ns } from './pods.js';

describe('Kubernetes names', () => {
  it('keeps valid DNS labels and makes others valid, with a hash when changed or cut', () => {
    expect(dnsLabel('rondo-test-acme-shop-dev')).toBe('rondo-test-acme-shop-dev');
    const changed = dnsLabel('Rondo_Test.Acme');
    expect(changed).toMatch(/^rondo-test-acme-[0-9a-f]{8}$/);
    expect(changed).not.toBe(dnsLabel('rondo-test-acme'));
    const long = dnsLabel(`rondo-${'x'.repeat(80)}`);
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(long).not.toBe(dnsLabel(`rondo-${'x'.repeat(81)}`));
    expect(dnsLabel('a'.repeat(70), 56)).toHaveLength(56);
  });

  it('keeps valid label values and makes others valid (at most 63, alphanumeric at both ends)', () => {
    expect(labelValue('dep_01HX.y-z')).toBe('dep_01HX.y-z');
    expect(labelValue('')).toBe('');
    const v = labelValue(`-a/b:c-${'y'.repeat(70)}`);
    expect(v.length).toBeLessThanOrEqual(63);
    expect(v).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    expect(selector({ 'rondo.instance': 'i1', 'rondo.org': 'a b' })).toBe(
      `rondo.instance=i1,rondo.org=${labelValue('a b')}`,
    );
  });

  it('round-trips replica ids and refuses other strings', () => {
    expect(parsePodId(podId('ns', 'pod-1'))).toEqual({ namespace: 'ns', name: 'pod-1' });
    expect(() => parsePodId('pod-1')).toThrow(/not a Kubernetes replica id/);
  });

  it('reads RFC 3339 times to the nanosecond', () => {
    expect(rfc3339Ns('2026-12-01T07:35:43.123456789Z')).toBe(1_796_110_543_123_456_789n);
    expect(rfc3339Ns('2026-12-01T07:35:43Z')).toBe(1_796_110_543_000_000_000n);
    expect(rfc3339Ns('2026-12-01T08:35:43.5+01:00')).toBe(1_796_110_543_500_000_000n);
    expect(rfc3339Ns('yesterday')).toBeUndefined();
  });
});
