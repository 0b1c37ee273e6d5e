import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ComponentDescriptor, DESCRIPTOR_FILES, parseDescriptor } from './descriptor.js';

/** The descriptor of a checked-out component, by precedence (§2); undefined when it has none. */
export function readDescriptor(componentDir: string, componentType: string): ComponentDescriptor | undefined {
  for (const file of DESCRIPTOR_FILES) {
    const path = join(componentDir, file);
    if (existsSync(path)) return parseDescriptor(file, readFileSync(path, 'utf8'), componentType);
  }
  return undefined;
}
