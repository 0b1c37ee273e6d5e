/**
 * OCI image reference grammar, as Docker's distribution/reference defines it:
 * `[domain[:port]/]path[:tag][@digest]`.
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?|\\[[0-9a-fA-F:]+\\](?::[0-9]+)?)`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

export interface ImageReference {
  name: string;
  tag?: string;
  digest?: string;
}

export function parseImageReference(ref: string): ImageReference | undefined {
  const m = REFERENCE.exec(ref);
  if (!m || (m[1] ?? '').length > 255) return undefined;
  const out: ImageReference = { name: m[1]! };
  if (m[2]) out.tag = m[2];
  if (m[3]) out.digest = m[3];
  return out;
}

/** Says what is wrong with an image reference, or `undefined` when it is one. */
export function checkImageReference(ref: string): string | undefined {
  if (ref.length === 0) return 'must not be empty';
  if (ref.length > 512) return 'must be at most 512 characters';
  if (!parseImageReference(ref)) {
    return `'${ref.slice(0, 80)}' is not an image reference such as registry.example.com/team/app:1.2 or app@sha256:<digest>`;
  }
  return undefined;
}
