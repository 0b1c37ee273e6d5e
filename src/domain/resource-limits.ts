import { z } from 'zod';

/**
 * What one replica (or task run) may use, frozen with the deployment. Unset means unlimited, as
 * on a single machine; memory is a hard limit without swap, so a replica over it is OOM-killed
 * (and says so in its conditions) rather than slowing the host.
 */
export const ResourceLimits = z.strictObject({
  memoryMiB: z
    .number()
    .int()
    .min(16)
    .max(1_048_576)
    .optional()
    .describe('memory limit per replica in MiB (16 and up; a replica over it is OOM-killed)'),
  cpuMillicores: z
    .number()
    .int()
    .min(10)
    .max(256_000)
    .optional()
    .describe('CPU limit per replica in millicores (1000 = one core)'),
});
export type ResourceLimits = z.infer<typeof ResourceLimits>;

/** Leaves the limits out when none is set, so specs without limits stay as they were. */
export function limitsOrNothing(limits: ResourceLimits | undefined): ResourceLimits | undefined {
  if (!limits) return undefined;
  const set = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  return Object.keys(set).length ? (set as ResourceLimits) : undefined;
}
