import { sleep } from 'n8n-workflow';

export class WaitCancelledError extends Error {
	constructor() {
		super('The execution was cancelled while waiting');
	}
}

/**
 * Sleeps, but wakes at once when the execution is cancelled (n8n's `sleep` alone cannot be
 * interrupted).
 */
export async function sleepUnlessCancelled(ms: number, signal?: AbortSignal): Promise<void> {
	if (signal?.aborted) throw new WaitCancelledError();
	if (!signal) return await sleep(ms);
	let onAbort: () => void = () => {};
	const cancelled = new Promise<never>((_, reject) => {
		onAbort = () => reject(new WaitCancelledError());
		signal.addEventListener('abort', onAbort, { once: true });
	});
	try {
		await Promise.race([sleep(ms), cancelled]);
	} finally {
		signal.removeEventListener('abort', onAbort);
	}
}
