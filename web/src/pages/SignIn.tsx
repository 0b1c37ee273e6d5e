import { type FormEvent, useState } from 'react';
import { ApiProblem } from '../api/client';
import { useSession } from '../session';
import { Field, ProblemView } from '../ui';

export function SignIn() {
  const { state, signIn } = useSession();
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const reason = state.status === 'signed-out' ? state.reason : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(token);
      setToken('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in" id="main">
      <h1>Sign in to Rondo</h1>
      {reason && <ProblemView error={new ApiProblem(reason)} />}
      <form onSubmit={submit}>
        <Field
          label="Personal access token"
          hint="Create one with `rondo create token console`. It is exchanged for a session cookie and not kept."
        >
          <input
            type="password"
            name="token"
            autoComplete="off"
            required
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
        </Field>
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error !== null && <ProblemView error={error} />}
    </main>
  );
}
