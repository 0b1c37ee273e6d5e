import { hasNonAscii } from './text.js';

/** DNS label (RFC 1123): what organizations, projects, components and environments are named. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Says what is wrong with `name` as a DNS label, or `undefined` when it is one. */
export function checkDnsLabel(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 63) return `must be at most 63 characters (got ${name.length})`;
  if (hasNonAscii(name)) return 'must use only ASCII letters a-z, digits and "-"';
  if (/[A-Z]/.test(name)) return `must be lowercase (try '${name.toLowerCase()}')`;
  if (name.startsWith('-') || name.endsWith('-')) return 'must start and end with a letter or digit';
  if (!DNS_LABEL.test(name)) return 'must contain only a-z, 0-9 and "-" (a DNS label)';
  return undefined;
}
