import { ATTEMPTS } from '../kling';
import { sleepUnlessCancelled } from '../sleep';
import { KlingFailure } from './failure';

/** How patient one request is. All in milliseconds. */
export interface RequestPolicy {
	attempts: number;
	retryDelayMs: number;
	timeoutMs: number;
	signal?: AbortSignal;
	/**
	 * No try is started after this time (ms since the epoch): Submit and Wait's Timeout bounds its
	 * downloads too, so the node ends by its Timeout plus one Request Timeout.
	 */
	deadlineAt?: number;
}

/** Whether the policy's deadline (if any) has passed: no further try may start. */
export const pastDeadline = (policy: RequestPolicy, now = Date.now()) =>
	policy.deadlineAt !== undefined && now >= policy.deadlineAt;

export const DEFAULT_POLICY: RequestPolicy = {
	attempts: ATTEMPTS.standard,
	retryDelayMs: 1000,
	timeoutMs: 30_000,
};

/**
 * Exponential backoff with jitter, so a batch that hit the concurrency limit does not retry in
 * lockstep.
 */
export function backoffDelay(attempt: number, baseMs: number): number {
	return Math.min(baseMs * 30, baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}

/**
 * Runs `send` until it succeeds, retrying only what Kling's code says can heal; 1003/1004 get one
 * fresh token.
 */
export async function withRetries<T>(
	send: () => Promise<T>,
	policy: RequestPolicy,
	beforeRetry?: (failure: KlingFailure) => Promise<T | undefined>,
): Promise<T> {
	let resigned = false;
	for (let attempt = 1; ; attempt++) {
		const outcome = await settle(send);
		if (outcome.ok) return outcome.value;
		const error = outcome.error;
		if (!(error instanceof KlingFailure)) throw error;
		const again = error.retry === 'backoff' || (error.retry === 'resign' && !resigned);
		if (!again || attempt >= policy.attempts) throw error;
		const delay = error.retry === 'resign' ? 0 : backoffDelay(attempt, policy.retryDelayMs);
		if (pastDeadline(policy, Date.now() + delay)) {
			error.stoppedAtDeadline = true;
			throw error;
		}
		if (error.retry === 'resign') resigned = true;
		else await sleepUnlessCancelled(delay, policy.signal);
		const recovered = await beforeRetry?.(error);
		if (recovered !== undefined) return recovered;
	}
}

/**
 * A call's value or what it threw, so the caller decides outside a catch block which failures to
 * keep.
 */
export async function settle<T>(
	call: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
	try {
		return { ok: true, value: await call() };
	} catch (error) {
		return { ok: false, error };
	}
}
