/**
 * What binds an envelope to where it is stored, for the envelopes kept outside `config_values`
 * (whose AAD is the value's id). Writers and the master key rotation use the same function.
 */
export const dataPlaneAad = (dataPlaneId: string): string => `dataplane:${dataPlaneId}`;
