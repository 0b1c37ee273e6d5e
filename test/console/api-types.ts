import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { pino } from 'pino';
import { createApi } from '../../src/api/app.js';
import type { ControlDeps } from '../../src/control/context.js';
import type { SecretDeps } from '../../src/secrets/secret-deps.js';

/** The console's API types, a generated file: `npm run console:api-types` rewrites it. */
export const API_TYPES_FILE = join(import.meta.dirname, '..', '..', 'web', 'src', 'api', 'schema.d.ts');

/**
 * The TypeScript types of the API, generated from the OpenAPI document of the app built
 * in-process: routes only, no store or engine (nothing is called before a request arrives).
 */
export async function generateApiTypes(): Promise<string> {
  const app = await createApi({} as ControlDeps & SecretDeps, pino({ level: 'silent' }));
  try {
    await app.ready();
    const document = app.swagger() as Parameters<typeof openapiTS>[0];
    const ast = await openapiTS(document, { alphabetize: true });
    return `// Generated from /api/v1/openapi.json by \`npm run console:api-types\`; do not edit.\n${astToString(ast)}`;
  } finally {
    await app.close();
  }
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(API_TYPES_FILE, await generateApiTypes());
  console.log(`wrote ${API_TYPES_FILE}`);
}
