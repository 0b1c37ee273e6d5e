import type { EndpointSpec } from '../domain/endpoint.js';

export interface UrlSettings {
  publicPort: number;
  baseDomain: string;
  internalPortBase: number;
}

export interface EndpointUrl {
  endpoint: string;
  visibility: EndpointSpec['visibility'][number];
  url: string;
}

/** Where each endpoint answers (§7), per visibility. */
export function endpointUrls(
  s: UrlSettings,
  where: {
    org: string;
    project: string;
    component: string;
    componentType: string;
    environment: string;
    gatewaySlot: number | null;
  },
  endpoints: EndpointSpec[],
): EndpointUrl[] {
  const { org, project, component, environment } = where;
  const port = s.publicPort === 80 ? '' : `:${s.publicPort}`;
  const urls: EndpointUrl[] = [];
  for (const e of endpoints) {
    if (where.componentType === 'web-app') {
      urls.push({
        endpoint: e.name,
        visibility: 'Public',
        url: `http://${component}.${project}.${org}.${environment}.${s.baseDomain}${port}/`,
      });
      break;
    }
    for (const v of e.visibility) {
      if (v === 'Public')
        urls.push({
          endpoint: e.name,
          visibility: v,
          url: `http://${environment}.${s.baseDomain}${port}/${org}/${project}/${component}/${e.name}/`,
        });
      if (v === 'Organization' && where.gatewaySlot !== null) {
        urls.push({
          endpoint: e.name,
          visibility: v,
          url: `http://rondo-gateway:${s.internalPortBase + where.gatewaySlot}/${project}/${component}/${e.name}/`,
        });
      }
      if (v === 'Project')
        urls.push({ endpoint: e.name, visibility: v, url: `http://${component}:${e.port}/` });
    }
  }
  return urls;
}
