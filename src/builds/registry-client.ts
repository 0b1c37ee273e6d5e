/**
 * The little of the OCI distribution API that garbage collection needs: delete a manifest by
 * digest (the registry must run with `storage.delete.enabled: true`, as `rondo up` configures it).
 */
export async function deleteManifest(image: string): Promise<void> {
  const at = image.indexOf('@');
  const slash = image.indexOf('/');
  if (at === -1 || slash === -1) throw new Error(`'${image}' is not a registry/name@digest reference`);
  const registry = image.slice(0, slash);
  const name = image.slice(slash + 1, at);
  const digest = image.slice(at + 1);
  const res = await fetch(`http://${registry}/v2/${name}/manifests/${digest}`, { method: 'DELETE' });
  // 404: already gone, which is what we wanted.
  if (!res.ok && res.status !== 404)
    throw new Error(`the registry refused to delete ${image} (${res.status})`);
}
