/** What a serve worker tells its primary: listening (with the URL), or stopping by itself. */
export type WorkerMessage =
  | { coffer: 'worker'; type: 'ready'; url: string }
  | { coffer: 'worker'; type: 'stopping' };

/** What the primary tells a worker: drain and exit (the same as a SIGTERM, but never "a second signal"). */
export const STOP_MESSAGE = { coffer: 'primary', type: 'stop' } as const;

export const isWorkerMessage = (m: unknown): m is WorkerMessage => (m as WorkerMessage | null)?.coffer === 'worker';
export const isStopMessage = (m: unknown): boolean =>
  (m as typeof STOP_MESSAGE | null)?.coffer === 'primary' && (m as typeof STOP_MESSAGE).type === 'stop';
