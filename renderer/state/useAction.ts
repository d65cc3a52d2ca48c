import { useCallback, useState } from 'react';
import type { CallResult } from '../../shared/ui-contract';

/**
 * Runs a user action against the agent: tracks that it is busy (to disable its button) and
 * keeps the last failure's message for an alert. The result arrives later as events.
 */
export function useAction(): {
  busy: boolean;
  failure: string | undefined;
  run<T>(action: () => Promise<CallResult<T>>): Promise<CallResult<T>>;
  dismiss(): void;
} {
  const [busy, setBusy] = useState(0);
  const [failure, setFailure] = useState<string>();
  const run = useCallback(async <T,>(action: () => Promise<CallResult<T>>) => {
    setBusy((n) => n + 1);
    try {
      const result = await action();
      setFailure(result.ok ? undefined : result.error.message);
      return result;
    } finally {
      setBusy((n) => n - 1);
    }
  }, []);
  return { busy: busy > 0, failure, run, dismiss: useCallback(() => setFailure(undefined), []) };
}
