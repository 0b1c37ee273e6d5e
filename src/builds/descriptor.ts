import { parseDocument, type YAMLError } from 'yaml';
import { z } from 'zod';
import type { ConfigDeclaration } from '../domain/configuration.js';
import type { EndpointSpec } from '../domain/endpoint.js';
import { checkEndpoints, ENDPOINT_TYPES, nameEndpoints, VISIBILITIES } from '../domain/endpoint.js';

/**
 * The component descriptor (§2): Choreo's `component.yaml` (schemaVersion 1.0–1.2) plus Rondo's
 * `health`, and the two legacy Choreo files. Parsing is pure; `readDescriptor` in
 * `descriptor-files.ts` finds the file. Errors name the file, the field and what is wrong.
 */

/** Where descriptors are looked for, in order of precedence, relative to the component directory. */
export const DESCRIPTOR_FILES = [
  '.rondo/component.yaml',
  '.choreo/component.yaml',
  '.choreo/component-config.yaml',
  '.choreo/endpoints.yaml',
] as const;

export type ProbeSpec =
  | { http: { path: string; port: number }; periodSeconds: number; timeoutSeconds: number }
  | { tcp: { port: number }; periodSeconds: number; timeoutSeconds: number };

export interface ComponentDescriptor {
  file: (typeof DESCRIPTOR_FILES)[number];
  endpoints: EndpointSpec[];
  configurations: ConfigDeclaration[];
  health: { readiness?: ProbeSpec; liveness?: ProbeSpec };
}

export class DescriptorError extends Error {
  constructor(file: string, field: string, problem: string) {
    super(`${file}: ${field ? `${field}: ` : ''}${problem}`);
    this.name = 'DescriptorError';
  }
}

const Port = z.number().int().min(1).max(65535);
const Visibility = z.enum(VISIBILITIES);
const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must start with a letter or _ and use only letters, digits and _');
const ConfigForm = z
  .object({
    displayName: z.string().optional(),
    required: z.boolean().optional(),
    type: z.string().optional(),
  })
  .passthrough();
const ValueFrom = z.object({
  configForm: ConfigForm.optional(),
  connectionRef: z.object({ name: z.string(), key: z.string() }).optional(),
});
const Probe = z
  .strictObject({
    http: z.strictObject({ path: z.string().startsWith('/'), port: Port }).optional(),
    tcp: z.strictObject({ port: Port }).optional(),
    periodSeconds: z.number().int().min(1).max(300).default(5),
    timeoutSeconds: z.number().int().min(1).max(60).default(2),
  })
  .refine((p) => (p.http ? 1 : 0) + (p.tcp ? 1 : 0) === 1, 'give exactly one of http or tcp');

const ComponentYaml = z.strictObject({
  schemaVersion: z.union([
    z.literal(1),
    z.literal(1.0),
    z.literal(1.1),
    z.literal(1.2),
    z.enum(['1.0', '1.1', '1.2']),
  ]),
  endpoints: z
    .array(
      z.strictObject({
        name: z.string(),
        displayName: z.string().optional(),
        service: z.strictObject({ basePath: z.string().optional(), port: Port }),
        type: z.enum(ENDPOINT_TYPES),
        networkVisibilities: z.array(Visibility).optional(),
        networkVisibility: Visibility.optional(),
        schemaFilePath: z.string().optional(),
      }),
    )
    .optional(),
  dependencies: z.record(z.string(), z.unknown()).optional(),
  configurations: z
    .strictObject({
      env: z.array(z.strictObject({ name: EnvName, valueFrom: ValueFrom })).optional(),
      file: z
        .array(
          z.strictObject({
            name: z.string(),
            mountPath: z.string().startsWith('/'),
            type: z.enum(['yaml', 'json', 'toml']),
            values: z.array(z.object({ name: z.string(), valueFrom: ValueFrom })).min(1),
          }),
        )
        .optional(),
    })
    .optional(),
  proxy: z.record(z.string(), z.unknown()).optional(),
  health: z.strictObject({ readiness: Probe.optional(), liveness: Probe.optional() }).optional(),
});

const LegacyEndpoint = z.object({
  name: z.string(),
  port: Port,
  type: z.enum(ENDPOINT_TYPES),
  networkVisibility: Visibility.optional(),
  context: z.string().optional(),
  schemaFilePath: z.string().optional(),
});
const ComponentConfigYaml = z.object({
  apiVersion: z.literal('core.choreo.dev/v1beta1'),
  kind: z.literal('ComponentConfig'),
  spec: z.object({ inbound: z.array(LegacyEndpoint).optional() }).passthrough(),
});
const EndpointsYaml = z.object({
  version: z.union([z.string(), z.number()]),
  endpoints: z.array(LegacyEndpoint),
});

function firstIssue(file: string, err: z.ZodError): DescriptorError {
  const issue = err.issues[0]!;
  const field = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`))
    .join('');
  const message =
    issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
  return new DescriptorError(file, field, message);
}

function parseYaml(file: string, text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false });
  const err: YAMLError | undefined = doc.errors[0];
  if (err)
    throw new DescriptorError(
      file,
      '',
      `not valid YAML at line ${err.linePos?.[0]?.line ?? '?'}: ${err.message.split('\n')[0]}`,
    );
  return doc.toJS();
}

function declarations(c: z.infer<typeof ComponentYaml>['configurations']): ConfigDeclaration[] {
  const out: ConfigDeclaration[] = [];
  for (const e of c?.env ?? []) {
    const form = e.valueFrom.configForm;
    if (!form) continue;
    const type = form.type ?? 'string';
    out.push({ name: e.name, kind: 'env', type, required: form.required ?? true, secret: type === 'secret' });
  }
  for (const f of c?.file ?? []) {
    const required = f.values.some((v) => v.valueFrom.configForm?.required ?? true);
    const secret = f.values.some((v) => v.valueFrom.configForm?.type === 'secret');
    out.push({
      name: f.name,
      kind: 'file',
      mountPath: f.mountPath,
      format: f.type,
      type: f.type,
      required,
      secret,
    });
  }
  return out;
}

function probe(p: z.infer<typeof Probe> | undefined): ProbeSpec | undefined {
  if (!p) return undefined;
  const timing = { periodSeconds: p.periodSeconds, timeoutSeconds: p.timeoutSeconds };
  return p.http ? { http: p.http, ...timing } : { tcp: p.tcp!, ...timing };
}

/** Parses one descriptor file's text; `file` says which of DESCRIPTOR_FILES it is. */
export function parseDescriptor(
  file: (typeof DESCRIPTOR_FILES)[number],
  text: string,
  componentType: string,
): ComponentDescriptor {
  const raw = parseYaml(file, text);
  let endpoints: EndpointSpec[];
  let configurations: ConfigDeclaration[] = [];
  let health: ComponentDescriptor['health'] = {};
  if (file.endsWith('component.yaml')) {
    const parsed = ComponentYaml.safeParse(raw);
    if (!parsed.success) throw firstIssue(file, parsed.error);
    const d = parsed.data;
    endpoints = (d.endpoints ?? []).map((e) => ({
      name: e.name,
      port: e.service.port,
      type: e.type,
      basePath: e.service.basePath ?? '/',
      // networkVisibilities wins over the singular key (Choreo's rule); Public is the default.
      visibility: e.networkVisibilities ?? (e.networkVisibility ? [e.networkVisibility] : ['Public']),
    }));
    configurations = declarations(d.configurations);
    health = { readiness: probe(d.health?.readiness), liveness: probe(d.health?.liveness) };
  } else {
    const legacy = file.endsWith('component-config.yaml')
      ? ComponentConfigYaml.safeParse(raw)
      : EndpointsYaml.safeParse(raw);
    if (!legacy.success) throw firstIssue(file, legacy.error);
    const list = 'spec' in legacy.data ? (legacy.data.spec.inbound ?? []) : legacy.data.endpoints;
    endpoints = list.map((e) => ({
      name: e.name,
      port: e.port,
      type: e.type,
      basePath: e.context ?? '/',
      visibility: [e.networkVisibility ?? 'Public'],
    }));
  }
  const named = nameEndpoints(endpoints);
  endpoints = named.endpoints;
  const problems = named.problems.length ? named.problems : checkEndpoints(endpoints, componentType);
  if (problems.length) {
    const p = problems[0]!;
    throw new DescriptorError(file, p.field.replace(/^endpoints\.(\d+)/, 'endpoints[$1]'), p.message);
  }
  return {
    file,
    endpoints,
    configurations,
    health: Object.fromEntries(Object.entries(health).filter(([, v]) => v)),
  };
}
