import { describe, expect, it } from 'vitest';
import { parseDescriptor } from './descriptor.js';

const SPEC_EXAMPLE = `
schemaVersion: 1.2
endpoints:
  - name: books
    displayName: Books API
    service: { basePath: /books, port: 8080 }
    type: REST
    networkVisibilities: [Public, Organization]
    schemaFilePath: openapi.yaml
configurations:
  env:
    - name: DB_URL
      valueFrom: { configForm: { displayName: Database URL, type: secret, required: true } }
  file:
    - name: app.yaml
      mountPath: /app/config
      type: yaml
      values: [ { name: level, valueFrom: { configForm: { type: string, required: false } } } ]
health:
  readiness: { http: { path: /healthz, port: 8080 }, periodSeconds: 2, timeoutSeconds: 2 }
  liveness:  { tcp: { port: 8080 } }
`;

describe('parseDescriptor', () => {
  it('reads the §2 example: endpoints, declared configurations, health', () => {
    const d = parseDescriptor('.rondo/component.yaml', SPEC_EXAMPLE, 'service');
    expect(d.endpoints).toEqual([
      { name: 'books', port: 8080, type: 'REST', basePath: '/books', visibility: ['Public', 'Organization'] },
    ]);
    expect(d.configurations).toEqual([
      { name: 'DB_URL', kind: 'env', type: 'secret', required: true, secret: true },
      {
        name: 'app.yaml',
        kind: 'file',
        mountPath: '/app/config',
        format: 'yaml',
        type: 'yaml',
        required: false,
        secret: false,
      },
    ]);
    expect(d.health).toEqual({
      readiness: { http: { path: '/healthz', port: 8080 }, periodSeconds: 2, timeoutSeconds: 2 },
      liveness: { tcp: { port: 8080 }, periodSeconds: 5, timeoutSeconds: 2 },
    });
  });

  it('accepts Choreo 1.0 files with the singular networkVisibility, defaulting to Public', () => {
    const d = parseDescriptor(
      '.choreo/component.yaml',
      'schemaVersion: 1.0\nendpoints:\n  - name: api\n    service: { port: 9090 }\n    type: GraphQL\n    networkVisibility: Organization\n  - name: grpc\n    service: { port: 50051 }\n    type: GRPC\n',
      'service',
    );
    expect(d.endpoints.map((e) => [e.name, e.basePath, e.visibility])).toEqual([
      ['api', '/', ['Organization']],
      ['grpc', '/', ['Public']],
    ]);
  });

  it('reads the legacy component-config.yaml and endpoints.yaml', () => {
    const cc = parseDescriptor(
      '.choreo/component-config.yaml',
      'apiVersion: core.choreo.dev/v1beta1\nkind: ComponentConfig\nspec:\n  inbound:\n    - name: greeter\n      port: 9090\n      type: REST\n      networkVisibility: Project\n      context: /greet\n',
      'service',
    );
    expect(cc.endpoints).toEqual([
      { name: 'greeter', port: 9090, type: 'REST', basePath: '/greet', visibility: ['Project'] },
    ]);
    const ep = parseDescriptor(
      '.choreo/endpoints.yaml',
      'version: 0.1\nendpoints:\n  - name: hello\n    port: 8080\n    type: REST\n    context: /\n',
      'service',
    );
    expect(ep.endpoints[0]).toMatchObject({ name: 'hello', port: 8080, visibility: ['Public'] });
  });

  it.each([
    ['schemaVersion: 2.0\n', /\.rondo\/component\.yaml: schemaVersion: /],
    [
      'schemaVersion: 1.2\nendpoints:\n  - name: a\n    service: { port: 80800 }\n    type: REST\n',
      /endpoints\[0\]\.service\.port: .*65535/,
    ],
    [
      'schemaVersion: 1.2\nendpoints:\n  - name: a\n    service: { port: 80 }\n    type: SOAP\n',
      /endpoints\[0\]\.type: /,
    ],
    [
      'schemaVersion: 1.2\nendpoints:\n  - name: a\n    service: { port: 80 }\n    type: REST\n    visibility: Public\n',
      /endpoints\[0\]: unknown field\(s\) visibility/,
    ],
    [
      'schemaVersion: 1.2\nendpoints:\n  - name: " "\n    service: { port: 80 }\n    type: REST\n',
      /endpoints\[0\]\.name: must not be empty/,
    ],
    [
      'schemaVersion: 1.2\nendpoints:\n  - name: "a\\u001b[2Jb"\n    service: { port: 80 }\n    type: REST\n',
      /endpoints\[0\]\.name: must not contain control characters/,
    ],
    [
      'schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: 1BAD\n      valueFrom: { configForm: {} }\n',
      /configurations\.env\[0\]\.name: must start with a letter/,
    ],
    [
      'schemaVersion: 1.2\nhealth:\n  readiness: { periodSeconds: 2 }\n',
      /health\.readiness: give exactly one of http or tcp/,
    ],
    ['schemaVersion: 1.2\nendpoints: [\n', /not valid YAML at line/],
  ])('names the file, the field and the problem: %j', (text, message) => {
    expect(() => parseDescriptor('.rondo/component.yaml', text, 'service')).toThrow(message);
  });

  it("accepts Choreo's endpoint names and gives each a stable DNS label for URLs", () => {
    // wso2/choreo-samples hello-world-php-service: component.yaml and its older endpoints.yaml.
    const yaml = [
      'schemaVersion: 1.0',
      'endpoints:',
      '  - name: hello_world_php',
      '    displayName: Hello World PHP',
      '    service:',
      '      basePath: /',
      '      port: 8000',
      '    type: REST',
      '    networkVisibilities:',
      '      - Public',
      '    schemaFilePath: openapi.yaml',
      '',
    ].join('\n');
    expect(parseDescriptor('.choreo/component.yaml', yaml, 'service').endpoints).toEqual([
      {
        name: 'hello-world-php',
        declaredName: 'hello_world_php',
        port: 8000,
        type: 'REST',
        basePath: '/',
        visibility: ['Public'],
      },
    ]);
    const legacy =
      'version: 0.1\nendpoints:\n- name: Hello World PHP\n  port: 8000\n  type: REST\n  networkVisibility: Public\n  context: /\n';
    expect(parseDescriptor('.choreo/endpoints.yaml', legacy, 'service').endpoints[0]).toMatchObject({
      name: 'hello-world-php',
      declaredName: 'Hello World PHP',
    });
    const cc =
      'apiVersion: core.choreo.dev/v1beta1\nkind: ComponentConfig\nspec:\n  inbound:\n    - name: ThreadSync API\n      port: 8290\n      type: REST\n';
    expect(parseDescriptor('.choreo/component-config.yaml', cc, 'service').endpoints[0]!.name).toBe(
      'threadsync-api',
    );
  });

  it('keeps DNS names unique: names that would share one get a tag of their own name, the same every build', () => {
    const yaml = (names: string[]) =>
      `schemaVersion: 1.2\nendpoints:\n${names.map((n, i) => `  - name: ${n}\n    service: { port: ${8000 + i} }\n    type: REST\n`).join('')}`;
    const names = (list: string[]) =>
      parseDescriptor('.choreo/component.yaml', yaml(list), 'service').endpoints.map((e) => e.name);
    const [a, b, c] = names(['hello-world', 'hello_world', 'hello__world']);
    expect(a).toBe('hello-world');
    expect(b).toMatch(/^hello-world-[0-9a-z]{7}$/);
    expect(c).toMatch(/^hello-world-[0-9a-z]{7}$/);
    expect(new Set([a, b, c]).size).toBe(3);
    // Stable: the same name gets the same DNS name whatever its place in the list.
    expect(names(['hello__world', 'hello_world'])).toEqual([c, b]);
    expect(names(['hello_world'])).toEqual(['hello-world']);
    const long = `a_${'b'.repeat(97)}`;
    const [l] = names([long]);
    expect(l!.length).toBeLessThanOrEqual(63);
    expect(l).toMatch(/^a-b+$/);
  });

  it('keeps a web app to one endpoint', () => {
    const two =
      'schemaVersion: 1.2\nendpoints:\n  - name: a\n    service: { port: 80 }\n    type: REST\n  - name: b\n    service: { port: 81 }\n    type: REST\n';
    expect(() => parseDescriptor('.rondo/component.yaml', two, 'web-app')).toThrow(
      /endpoints: a web app serves exactly one HTTP port/,
    );
  });
});
