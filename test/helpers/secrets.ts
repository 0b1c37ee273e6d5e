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
