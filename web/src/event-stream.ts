import { useEffect, useRef, useState } from 'react';
import { ApiProblem, noticeRefusal, type Problem } from './api/client';

export type StreamHandlers = Record<string, (data: never) => void> & {
  /** Each (re)connection: the server sends its state from the start again, so reset what was shown. */
  open?: () => void;
};

/**
 * Follows a server-sent event stream of the API (one EventSource; the session cookie authenticates
 * it). A stream ends at its `end` event or with a `problem` event; a refused stream (4xx/5xx, which
 * EventSource cannot read) is asked once more with fetch, for the problem's title and fix. The
 * browser reconnects a stream that broke off by itself.
 */
export function useEventStream(url: string | null, handlers: StreamHandlers) {
  const [error, setError] = useState<ApiProblem | null>(null);
  const [ended, setEnded] = useState(false);
  const latest = useRef(handlers);
  latest.current = handlers;

  useEffect(() => {
    if (!url) return;
    setError(null);
    setEnded(false);
    const source = new EventSource(url);
    const abort = new AbortController();
    const names = Object.keys(latest.current).filter((n) => n !== 'open');
    source.addEventListener('open', () => latest.current.open?.());
    for (const name of names) {
      source.addEventListener(name, (event) => {
        const data = JSON.parse((event as MessageEvent<string>).data) as never;
        latest.current[name]?.(data);
      });
    }
    source.addEventListener('end', () => {
      source.close();
      setEnded(true);
    });
    source.addEventListener('problem', (event) => {
      source.close();
      setError(new ApiProblem(JSON.parse((event as MessageEvent<string>).data) as Problem));
    });
    source.addEventListener('error', () => {
      if (source.readyState !== EventSource.CLOSED) return; // reconnecting by itself
      void (async () => {
        const response = await fetch(url, { signal: abort.signal });
        // The stream opens now: the refusal was passing; the reader of the page reloads to follow again.
        if (response.ok) {
          abort.abort();
          setError(
            new ApiProblem({
              title: 'The live view broke off',
              status: 0,
              fix: 'Reload the page to follow it again.',
            }),
          );
          return;
        }
        const problem = (await response.json()) as Problem;
        noticeRefusal(problem);
        setError(new ApiProblem(problem));
      })().catch(() => {
        if (!abort.signal.aborted)
          setError(
            new ApiProblem({
              title: 'The console could not reach Rondo',
              status: 0,
              fix: 'Check that the control plane is running, then reload the page.',
            }),
          );
      });
    });
    return () => {
      abort.abort();
      source.close();
    };
  }, [url]);

  return { error, ended };
}
