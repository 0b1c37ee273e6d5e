/** The steps of a build, in order (§4); every build records each one, queued until it runs. */
export const STEP_NAMES = ['init', 'scan-source', 'build', 'scan-image', 'push', 'update-endpoints'] as const;

export type BuildStepName = (typeof STEP_NAMES)[number];
