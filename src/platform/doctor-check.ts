/** One line of `rondo doctor`. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it is not ok. */
  fix?: string;
  /** Not checked (what it needs is missing); `ok` stays true so it fails nothing. */
  skipped?: boolean;
}
