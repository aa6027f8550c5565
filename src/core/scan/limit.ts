import { CancelledError } from '../types.js';

/** Runs at most `n` async tasks at once; each task checks the signal before it starts. */
export function createLimiter(n: number, signal?: AbortSignal): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  // A finishing task hands its slot straight to the next waiter, so `active` never exceeds n.
  const release = (): void => {
    const wake = waiting.shift();
    if (wake) wake();
    else active--;
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active < n) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      if (signal?.aborted) throw new CancelledError('scan cancelled');
      return await task();
    } finally {
      release();
    }
  };
}
