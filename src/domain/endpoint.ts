import type { FieldError } from './errors.js';
import { checkDnsLabel } from './names.js';
import { hasControlCharacters } from './text.js';

export const ENDPOINT_TYPES = ['REST', 'GraphQL', 'GRPC', 'WS', 'TCP', 'UDP'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export const VISIBILITIES = ['Project', 'Organization', 'Public'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** A port a component serves (§1, §2): who may reach it and under which path. */
export interface EndpointSpec {
  /** A DNS label: in URLs and routes. */
  name: string;
  /** The name as the descriptor wrote it, when that is not a DNS label (`hello_world_php`). */
  declaredName?: string;
  port: number;
  type: EndpointType;
  basePath: string;
  visibility: Visibility[];
}

/** Checks a component's endpoints together: names unique, ports valid, one HTTP port for web apps. */
export function checkEndpoints(endpoints: EndpointSpec[], componentType: string): FieldError[] {
  const errors: FieldError[] = [];
  const names = new Set<string>();
  endpoints.forEach((e, i) => {
    const nameProblem = checkDnsLabel(e.name);
    if (nameProblem) errors.push({ field: `endpoints.${i}.name`, message: nameProblem });
    if (names.has(e.name))
      errors.push({
        field: `endpoints.${i}.name`,
        message: `'${e.name}' is used twice; endpoint names are unique in a component`,
      });
    names.add(e.name);
    if (
      !e.basePath.startsWith('/') ||
      e.basePath.includes('..') ||
      /[\s?#]/.test(e.basePath) ||
      hasControlCharacters(e.basePath)
    ) {
      errors.push({
        field: `endpoints.${i}.basePath`,
        message:
          'must be an absolute path such as / or /books, without "..", spaces, control characters, ? or #',
      });
    }
    if (e.visibility.length === 0)
      errors.push({
        field: `endpoints.${i}.visibility`,
        message: 'must name at least one of Project, Organization, Public',
      });
    if ((e.type === 'TCP' || e.type === 'UDP') && e.visibility.some((v) => v !== 'Project')) {
      errors.push({
        field: `endpoints.${i}.visibility`,
        message: `${e.type} endpoints are reachable inside the project only (the gateways speak HTTP)`,
      });
    }
  });
  if (componentType === 'web-app' && endpoints.length > 1) {
    errors.push({ field: 'endpoints', message: 'a web app serves exactly one HTTP port' });
  }
  return errors;
}

/** Choreo's legacy descriptors take any name; 100 characters is more than any it shows. */
const DECLARED_NAME_MAX = 100;

/** FNV-1a, 32 bits, base 36: a short, stable tag for a name. */
function tag(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36).padStart(7, '0');
}

/** `Hello World_PHP` → `hello-world-php`: lower case, every run of other characters one "-". */
function dnsForm(name: string, max = 63): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '');
  return slug.slice(0, max).replace(/-+$/, '');
}

/**
 * Gives descriptor endpoints DNS-label names (URLs, routes) while accepting every name Choreo
 * does: `hello_world_php` (component.yaml allows `_`) and free text in the legacy files. A name
 * that is a DNS label stays as it is. Another becomes its DNS form, which depends on the name
 * alone (stable across builds) unless two names of the component would share it; those get a
 * tag of their own name after it. The declared name is kept beside the DNS one.
 */
export function nameEndpoints(endpoints: EndpointSpec[]): {
  endpoints: EndpointSpec[];
  problems: FieldError[];
} {
  const problems: FieldError[] = [];
  endpoints.forEach((e, i) => {
    const field = `endpoints.${i}.name`;
    if (e.name.trim() === '') problems.push({ field, message: 'must not be empty' });
    else if (e.name.length > DECLARED_NAME_MAX)
      problems.push({
        field,
        message: `must be at most ${DECLARED_NAME_MAX} characters (got ${e.name.length})`,
      });
    else if (hasControlCharacters(e.name))
      problems.push({ field, message: 'must not contain control characters' });
  });
  if (problems.length) return { endpoints, problems };
  const asIs = new Set(endpoints.filter((e) => checkDnsLabel(e.name) === undefined).map((e) => e.name));
  const forms = new Map<string, number>();
  for (const e of endpoints) {
    if (asIs.has(e.name)) continue;
    const form = dnsForm(e.name);
    forms.set(form, (forms.get(form) ?? 0) + 1);
  }
  const named = endpoints.map((e): EndpointSpec => {
    if (asIs.has(e.name)) return e;
    const form = dnsForm(e.name);
    const shared = form === '' || asIs.has(form) || (forms.get(form) ?? 0) > 1;
    const name = shared ? `${dnsForm(e.name, 55) || 'endpoint'}-${tag(e.name)}` : form;
    return { ...e, name, declaredName: e.name };
  });
  return { endpoints: named, problems: [] };
}
