/** A fresh, realistic-looking AWS key pair (random, so no scanner allow-lists it as an example). */
export function plantedAwsKey(): { id: string; secret: string } {
  const pick = (alphabet: string, n: number) =>
    Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
  return {
    id: `AKIA${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`,
    // The last character is alphanumeric: secretlint's AWS rule ends in `\b`, so a key ending in
    // `+` or `/` (3% of random keys) would slip past it and make the test flaky.
    secret:
      pick('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/', 39) +
      pick('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 1),
  };
}

/** A random service-account-style bearer token, to plant in a kubeconfig's user and search for. */
export function plantedKubeToken(): string {
  const pick = (n: number) =>
    Array.from(
      { length: n },
      () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 36)],
    ).join('');
  return `planted-kube-${pick(6)}.${pick(32)}`;
}

/** A kubeconfig of one cluster, user and context (`ctx`), the user authenticating with `token`. */
export function kubeconfigText(
  token: string,
  options: { server?: string; current?: string | null; user?: string } = {},
): string {
  const current = options.current === undefined ? 'ctx' : options.current;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: lab',
    '  cluster:',
    `    server: ${options.server ?? 'https://10.201.0.2:6443'}`,
    '    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t',
    'users:',
    `- name: ${options.user ?? 'admin'}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: ctx',
    '  context:',
    '    cluster: lab',
    '    user: admin',
    '- name: other',
    '  context:',
    '    cluster: lab',
    '    user: admin',
    ...(current === null ? [] : [`current-context: ${current}`]),
    '',
  ].join('\n');
}
