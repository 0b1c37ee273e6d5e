/**
 * Kubernetes' resource quantities (`250m`, `2`, `1234567n`, `3928Mi`, `4G`, `1e3`) as numbers:
 * a decimal with an optional suffix, binary (Ki … Ei) or decimal (n, u, m, k, M … E).
 */
const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The quantity's value in its base unit (cores, bytes); undefined when it is not one. */
export function quantity(q: string | number | undefined): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (q === undefined) return undefined;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]{0,2})$/.exec(q.trim());
  if (!m) return undefined;
  const factor = SUFFIX[m[2] ?? ''];
  if (factor === undefined) return undefined;
  return Number(m[1]) * factor;
}
