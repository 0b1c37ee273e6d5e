/**
 * A bench's calls to a running control plane: JSON in and out, any status from 300 up thrown with
 * its answer, so a bench stops at the first refusal instead of measuring errors.
 */
export function apiClient(url: string, token: string) {
  return async (method: string, path: string, payload?: unknown) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload ? { body: JSON.stringify(payload) } : {}),
    });
    // biome-ignore lint/suspicious/noExplicitAny: benches read a few known fields
    const body: any = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${JSON.stringify(body)}`);
    return body;
  };
}
