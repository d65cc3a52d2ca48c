import { useState } from 'react';

/**
 * Shown in the browser when the page has no login code and no session: asks for the
 * control token (DIR/control-token) and lets the caller check it against the agent.
 */
export function SignInView({ message, onSubmit }: { message?: string; onSubmit(token: string): Promise<string | undefined> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(message);
  const [busy, setBusy] = useState(false);
  return (
    <main className="signin">
      <form
        aria-label="Sign in to the Ferry agent"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          void onSubmit(token.trim()).then((problem) => {
            setBusy(false);
            setError(problem);
          });
        }}
      >
        <h1>Ferry</h1>
        <p>
          Each sign-in link works once: for a new one run <code>ferry ui</code> on this computer (with the agent&apos;s{' '}
          <code>--data DIR</code> if it has one), or paste the control token from <code>DIR/control-token</code>.
        </p>
        <label htmlFor="control-token">Control token</label>
        <input
          id="control-token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'signin-error' : undefined}
          data-testid="signin-token"
        />
        {error ? (
          <p className="field-error" id="signin-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy || !token.trim()} data-testid="signin-submit">
          Sign in
        </button>
      </form>
    </main>
  );
}
