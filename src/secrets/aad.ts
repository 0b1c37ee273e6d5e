/**
 * What binds an envelope to where it is stored, for the envelopes kept outside `config_values`
 * (whose AAD is the value's id). Writers and the master key rotation use the same function.
 */
export const dataPlaneAad = (dataPlaneId: string): string => `dataplane:${dataPlaneId}`;

/** The pull credentials of a data plane's registry: bound to the record, apart from its kubeconfig. */
export const dataPlaneRegistryAad = (dataPlaneId: string): string => `dataplane:${dataPlaneId}:registry`;
