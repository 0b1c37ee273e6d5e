/**
 * Choreo's rule for Dockerfile builds (§2, §4): the final stage runs as a numeric, non-root user
 * with a UID between 10000 and 20000. Returns what is wrong and how to fix it, or undefined.
 */
export function checkFinalUser(dockerfile: string): string | undefined {
  // Join continuation lines, drop comments, keep instruction lines.
  const lines = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let lastFrom = -1;
  lines.forEach((l, i) => {
    if (/^FROM\s/i.test(l)) lastFrom = i;
  });
  if (lastFrom === -1) return 'the Dockerfile has no FROM instruction';
  const users = lines.slice(lastFrom).filter((l) => /^USER\s/i.test(l));
  const fix = 'end the final stage with a numeric user, for example `USER 10014`';
  const last = users.at(-1);
  if (!last) return `the final stage sets no USER, so it would run as root; ${fix}`;
  const user = last.replace(/^USER\s+/i, '').split(':')[0]!;
  if (!/^\d+$/.test(user)) return `the final stage runs as '${user}', which is not a numeric UID; ${fix}`;
  const uid = Number(user);
  if (uid < 10000 || uid > 20000)
    return `the final stage runs as UID ${uid}; the UID must be between 10000 and 20000 — ${fix}`;
  return undefined;
}
