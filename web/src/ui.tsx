import { cloneElement, type ReactElement, type ReactNode, useId, useState } from 'react';
import { type Problem, problemOf } from './api/client';

/** An API refusal as a person reads it: what happened (title), what to do (fix), and the details. */
export function ProblemView({ error }: { error: unknown }) {
  const problem: Problem = problemOf(error);
  return (
    <div className="problem" role="alert">
      <strong>{problem.title}</strong>
      {problem.detail && !problem.errors && problem.detail.toLowerCase() !== problem.title.toLowerCase() && (
        <p>{problem.detail}</p>
      )}
      {problem.errors && (
        <ul>
          {problem.errors.map((e) => (
            <li key={`${e.field}:${e.message}`}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {problem.fix && <p className="fix">{problem.fix}</p>}
    </div>
  );
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
];
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function RelativeTime({ at }: { at: string | null | undefined }) {
  if (!at) return <span>—</span>;
  const ms = new Date(at).getTime() - Date.now();
  const [unit, size] = UNITS.find(([, n]) => Math.abs(ms) >= n) ?? ['second', 1000];
  return (
    <time dateTime={at} title={new Date(at).toLocaleString()}>
      {relative.format(Math.round(ms / size), unit)}
    </time>
  );
}

export function duration(from: string | null | undefined, to: string | null | undefined): string {
  if (!from) return '—';
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime();
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="copy"
      aria-label={`Copy ${label}`}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        });
      }}
    >
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}

export function Status({ value }: { value: string }) {
  return <span className={`status status-${value}`}>{value}</span>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** The API's field errors of a refusal, by field (`name`, `buildConfigs.port`, …). */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  if (!error) return {};
  const problem = problemOf(error);
  return Object.fromEntries((problem.errors ?? []).map((e) => [e.field, e.message]));
}

/** A labelled control: the label names the one element passed as the child; a field error shows under it. */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string;
  error?: string | undefined;
  children: ReactElement;
}) {
  const id = useId();
  const note = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(
        children as ReactElement<{ id?: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }>,
        {
          id,
          'aria-describedby': note,
          'aria-invalid': error ? true : undefined,
        },
      )}
      {error ? (
        <small id={`${id}-error`} className="field-error">
          {error}
        </small>
      ) : (
        hint && <small id={`${id}-hint`}>{hint}</small>
      )}
    </div>
  );
}
