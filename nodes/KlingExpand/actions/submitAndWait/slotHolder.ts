import { sleepUnlessCancelled } from '../../../shared/sleep';
import type { SlotPool } from '../../helpers/concurrency';

/** How often the held tasks are checked. All in milliseconds. */
export interface HoldSchedule {
	minIntervalMs: number;
	maxIntervalMs: number;
	/** Each wait is this share of the oldest held task's age: one check sees several tasks end. */
	growth: number;
	/**
	 * A task held longer than this gives its slots back anyway (it is treated as gone, as poll mode's
	 * timeout does).
	 */
	holdLimitMs: number;
}

interface Held {
	slots: number;
	since: number;
}

/**
 * Callback mode's slot accounting while items are still waiting to be submitted: a submitted task
 * keeps its slots in the run's SlotPool until one check (a single list request for all held tasks)
 * sees it end, so the next item is submitted when the account has room instead of into a 1303. Once
 * every item has been submitted (or has failed), `allSettled()` ends the checks: the execution can
 * sleep and leave the rest to Kling's callbacks. Checks are shared by all held tasks, so their cost
 * grows with the tasks, not the ticks.
 */
export class SlotHolder {
	private readonly held = new Map<string, Held>();

	private loop?: Promise<void>;

	private readonly stopped = new AbortController();

	/** Every check sent, for the bench and the tests. */
	checks = 0;

	constructor(
		private readonly pool: SlotPool,
		private readonly fetchEnded: (taskIds: string[]) => Promise<Set<string>>,
		private readonly schedule: HoldSchedule,
		private readonly signal?: AbortSignal,
		private remaining = 0,
	) {}

	/**
	 * The task holds `slots` until it is seen to end, it is held too long, or no item waits any more.
	 */
	hold(taskId: string, slots: number): void {
		if (this.remaining === 0 || this.stopped.signal.aborted) return this.pool.release(slots);
		this.held.set(taskId, { slots, since: Date.now() });
		this.loop ??= this.run().finally(() => (this.loop = undefined));
	}

	/**
	 * One item is done with its submission (sent, or failed before): when none is left, nobody needs
	 * a slot.
	 */
	itemSettled(): void {
		this.remaining = Math.max(0, this.remaining - 1);
		if (this.remaining === 0) this.stop();
	}

	/** Ends the checks and gives every held slot back. */
	stop(): void {
		this.stopped.abort();
		for (const [taskId, entry] of this.held) {
			this.held.delete(taskId);
			this.pool.release(entry.slots);
		}
	}

	/** Resolves once the checks have ended. */
	async settled(): Promise<void> {
		await this.loop;
	}

	private releaseTask(taskId: string): void {
		const entry = this.held.get(taskId);
		if (!entry) return;
		this.held.delete(taskId);
		this.pool.release(entry.slots);
	}

	private async run(): Promise<void> {
		const signal = this.signal
			? AbortSignal.any([this.signal, this.stopped.signal])
			: this.stopped.signal;
		while (this.held.size > 0 && !signal.aborted) {
			const oldest = Math.min(...[...this.held.values()].map((entry) => entry.since));
			const { minIntervalMs, maxIntervalMs, growth, holdLimitMs } = this.schedule;
			const intervalMs = Math.min(
				maxIntervalMs,
				Math.max(minIntervalMs, growth * (Date.now() - oldest)),
			);
			try {
				await sleepUnlessCancelled(intervalMs, signal);
			} catch {
				// Stopped (every item is submitted) or the execution was cancelled.
				break;
			}
			const now = Date.now();
			for (const [taskId, entry] of this.held)
				if (now - entry.since >= holdLimitMs) this.releaseTask(taskId);
			if (this.held.size === 0) break;
			// Nobody waits for a slot (the items are still being read and sent): a check would learn
			// nothing useful.
			if (this.pool.waiting === 0) continue;
			this.checks++;
			let ended: Set<string>;
			try {
				ended = await this.fetchEnded([...this.held.keys()]);
			} catch {
				// Asked again next tick; a task held too long is released above either way.
				continue;
			}
			for (const taskId of ended) this.releaseTask(taskId);
		}
		if (this.signal?.aborted) this.stop();
	}
}
