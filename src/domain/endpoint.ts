import type { FieldError } from './errors.js';
import { checkDnsLabel } from './names.js';

export const ENDPOINT_TYPES = ['REST', 'GraphQL', 'GRPC', 'WS', 'TCP', 'UDP'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export const VISIBILITIES = ['Project', 'Organization', 'Public'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** A port a component serves (§1, §2): who may reach it and under which path. */
export interface EndpointSpec {
  name: string;
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
    if (!e.basePath.startsWith('/') || e.basePath.includes('..') || /[\s?#]/.test(e.basePath)) {
      errors.push({
        field: `endpoints.${i}.basePath`,
        message: 'must be an absolute path such as / or /books, without "..", spaces, ? or #',
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
