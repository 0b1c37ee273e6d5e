import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import {
  api,
  currentSessionEpoch,
  type Problem,
  setCsrfToken,
  signedOutReason,
  unwrap,
  whenSignedOut,
} from './api/client';
import type { paths } from './api/schema';

type Me = paths['/api/v1/me']['get']['responses']['200']['content']['application/json'];

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out'; reason?: Problem }
  | { status: 'signed-in'; me: Me };

interface SessionApi {
  state: SessionState;
  signIn(token: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

const REASON_KEY = 'rondo.signed-out-reason';

/** Why the last session ended, kept in this tab (never a token: a problem's title, detail and fix). */
function keptReason(): Problem | undefined {
  try {
    const kept = sessionStorage.getItem(REASON_KEY);
    return kept ? (JSON.parse(kept) as Problem) : undefined;
  } catch {
    return undefined;
  }
}

async function loadMe(): Promise<Me> {
  return unwrap(await api.GET('/api/v1/me'));
}

/**
 * Sign-in: the pasted token goes once to `POST /api/v1/session` and is then forgotten; the
 * browser keeps only the HttpOnly cookie, the page only the CSRF token (in memory).
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const queries = useQueryClient();

  const end = useCallback(
    (reason?: Problem) => {
      setCsrfToken(null);
      queries.clear();
      // The first refusal clears the cookie; the page's later reads (and a reload) only learn that
      // no cookie was sent. The reason stays on screen, and across a reload, until the next sign-in.
      const shown = reason ?? keptReason();
      if (shown) sessionStorage.setItem(REASON_KEY, JSON.stringify(shown));
      setState(shown ? { status: 'signed-out', reason: shown } : { status: 'signed-out' });
    },
    [queries],
  );

  useEffect(() => {
    whenSignedOut(end);
    let live = true;
    // A sign-in, or a page's own read answered 401 first (which ended the session with its reason
    // and made the server clear the cookie), decides before this read: then its answer is stale.
    const epoch = currentSessionEpoch();
    (async () => {
      // Both at once: a first visit waits for one round trip, not two.
      const [current, me] = await Promise.all([api.GET('/api/v1/session'), api.GET('/api/v1/me')]);
      if (!live || currentSessionEpoch() !== epoch) return;
      if (!current.data || !me.data) {
        const refused = current.error ?? me.error;
        return end(refused ? signedOutReason(refused)?.reason : undefined);
      }
      setCsrfToken(current.data.csrfToken);
      sessionStorage.removeItem(REASON_KEY);
      setState({ status: 'signed-in', me: me.data });
    })().catch(() => live && currentSessionEpoch() === epoch && end());
    return () => {
      live = false;
    };
  }, [end]);

  const signIn = useCallback(async (token: string) => {
    const session = unwrap(
      await api.POST('/api/v1/session', { headers: { authorization: `Bearer ${token.trim()}` } }),
    );
    setCsrfToken(session.csrfToken);
    sessionStorage.removeItem(REASON_KEY);
    setState({ status: 'signed-in', me: await loadMe() });
  }, []);

  const signOut = useCallback(async () => {
    try {
      unwrap(await api.DELETE('/api/v1/session'));
    } finally {
      // Signing out is not a reason to explain.
      sessionStorage.removeItem(REASON_KEY);
      end();
    }
  }, [end]);

  return <SessionContext.Provider value={{ state, signIn, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
