import { sleepUnlessCancelled } from '../../../shared/sleep';
import type { SlotPool } from '../../helpers/concurrency';
import type { PollSchedule } from '../../helpers/polling';
import { nextPollDelay } from '../../helpers/polling';

/**
 * How often the held tasks are checked: the poll schedule over the oldest held task's age (with a
 * larger growth than poll mode's, so one check sees several tasks end). All in milliseconds.
 */
export interface HoldSchedule extends PollSchedule {
	/**
	 * A task held longer than this gives its slots back anyway (it is treated as gone, as poll mode's
	 * timeout does).
	 */
	holdLimitMs: number;
}

interface Held {
	slots: number;
	since: number;
	/**
	 * The task has no callback: once every item is submitted it is still watched until it ends, so
	 * the execution sleeps only on tasks whose callbacks can wake it.
	 */
	untilEnded: boolean;
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

	/** Tasks seen ended by a check. */
	readonly ended = new Set<string>();

	constructor(
		private readonly pool: SlotPool,
		private readonly fetchEnded: (taskIds: string[]) => Promise<Set<string>>,
		private readonly schedule: HoldSchedule,
		private readonly signal?: AbortSignal,
		private remaining = 0,
	) {}

	/**
	 * The task holds `slots` until it is seen to end, it is held too long, or no item waits any more;
	 * `untilEnded` (a task without callback) is watched until it ends even then.
	 */
	hold(taskId: string, slots: number, untilEnded = false): void {
		if (this.stopped.signal.aborted || (this.remaining === 0 && !untilEnded))
			return this.pool.release(slots);
		this.held.set(taskId, { slots, since: Date.now(), untilEnded });
		if (!untilEnded) this.tracked.add(taskId);
		this.loop ??= this.run().finally(() => (this.loop = undefined));
	}

	/**
	 * One item is done with its submission (sent, or failed before): when none is left, nobody needs
	 * a slot, and only tasks without callback are still watched.
	 */
	itemSettled(): void {
		this.remaining = Math.max(0, this.remaining - 1);
		if (this.remaining > 0) return;
		for (const [taskId, entry] of this.held) if (!entry.untilEnded) this.releaseTask(taskId);
		if (this.held.size === 0) this.stop();
	}

	/** Every item is submitted and tasks without callback are still running: they must be seen end. */
	private awaitingEnds(): boolean {
		return this.remaining === 0 && this.held.size > 0;
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

	/**
	 * Tasks with a callback: while tasks without one are watched, the same checks tell whether these
	 * ended too (see `ended`).
	 */
	private readonly tracked = new Set<string>();

	private watched(): string[] {
		return [...this.tracked].filter((taskId) => !this.ended.has(taskId) && !this.held.has(taskId));
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
			try {
				await sleepUnlessCancelled(nextPollDelay(Date.now() - oldest, this.schedule), signal);
			} catch {
				// Stopped (every item is submitted) or the execution was cancelled.
				break;
			}
			const now = Date.now();
			for (const [taskId, entry] of this.held)
				if (now - entry.since >= this.schedule.holdLimitMs) this.releaseTask(taskId);
			if (this.held.size === 0) break;
			// Nobody waits for a slot (the items are still being read and sent): a check would learn
			// nothing useful.
			if (this.pool.waiting === 0 && !this.awaitingEnds()) continue;
			this.checks++;
			let ended: Set<string>;
			try {
				ended = await this.fetchEnded([...this.held.keys(), ...this.watched()]);
			} catch {
				// Asked again next tick; a task held too long is released above either way.
				continue;
			}
			for (const taskId of ended) {
				this.ended.add(taskId);
				this.releaseTask(taskId);
			}
		}
		if (this.signal?.aborted) this.stop();
	}
}
