import { describe, expect, it } from 'vitest';
import { parseRate, policyFromFlags } from './endpoint-policies.js';

describe('rondo endpoint policy set flags', () => {
  it('become the policy, on top of the file', () => {
    const file = JSON.stringify({
      cors: { credentials: true, origins: ['https://old.example'] },
      apiKey: {},
    });
    expect(
      policyFromFlags(
        {
          file: 'p.json',
          rateLimit: '100/minute',
          burst: '20',
          consumerRateLimit: '5/s',
          corsOrigin: ['https://app.example'],
        },
        () => file,
      ),
    ).toEqual({
      apiKey: {},
      cors: { credentials: true, origins: ['https://app.example'] },
      rateLimit: { requests: 100, per: 'minute', burst: 20 },
      consumerRateLimit: { requests: 5, per: 'second' },
    });
    expect(policyFromFlags({ apiKey: 'x-key', corsOrigin: [] }, () => '')).toEqual({
      apiKey: { header: 'x-key' },
    });
    expect(policyFromFlags({ clear: true, rateLimit: '1/s', corsOrigin: [] }, () => '')).toEqual({});
  });

  it('refuse a rate or a file that is not one, naming the flag', () => {
    expect(() => parseRate('--rate-limit', '100 per hour')).toThrow(/--rate-limit takes/);
    expect(() => policyFromFlags({ file: 'p.json', corsOrigin: [] }, () => '{nope')).toThrow(/--file p.json/);
  });
});
