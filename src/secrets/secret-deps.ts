import type { Keyring } from './envelope.js';
import type { MasterKeyFile } from './master-key.js';

/** The keyring every use case that reads or writes configuration values shares; the file, when there is one. */
export interface SecretDeps {
  keyring: Keyring;
  masterKeyFile?: MasterKeyFile;
}
