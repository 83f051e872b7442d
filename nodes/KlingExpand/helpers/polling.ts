import { sleepUnlessCancelled } from '../../shared/sleep';

/** How often to ask whether tasks are done. All in milliseconds. */
export interface PollSchedule {
	/** First and shortest wait between checks. */
	minIntervalMs: number;
	/** Longest wait between checks. */
	maxIntervalMs: number;
	/**
	 * Each wait is this share of the time already waited, so the detection lag stays a small share of
	 * the task's duration.
	 */
	growth: number;
}

/**
 * The wait before the next check: a fixed share of the time already elapsed, clamped. Tasks that
 * take 5 s are checked often enough to be seen within ~10 % of that; tasks that take minutes are
 * not asked about every second.
 */
export function nextPollDelay(elapsedMs: number, schedule: PollSchedule): number {
	return Math.min(
		schedule.maxIntervalMs,
		Math.max(schedule.minIntervalMs, elapsedMs * schedule.growth),
	);
}

export class WaitTimeoutError extends Error {
	constructor(
		readonly taskId: string,
		readonly waitedMs: number,
	) {
		super(`Task ${taskId} did not finish within ${Math.round(waitedMs / 1000)} s`);
	}
}

const TIMER_SLACK_MS = 5;

interface Watched<T> {
	taskId: string;
	startedAt: number;
	dueAt: number;
	/** The wait that led to dueAt. */
	intervalMs: number;
	/**
	 * Everyone waiting for this task (two items may wait for one task, e.g. after a lost create
	 * answer), each with its own deadline.
	 */
	waiters: Array<{
		deadline: number;
		since: number;
		resolve: (task: T) => void;
		reject: (error: unknown) => void;
	}>;
}

/**
 * Waits for many tasks with one polling loop: on each tick, every task whose check is due is asked
 * about in one batch (`fetchTasks` may answer them with a single list request). Each task's checks
 * follow `nextPollDelay` from its own start. A fetch error marked `final` ends the waits it
 * concerned; any other fetch error is left for the next tick.
 */
export class TaskWatcher<T extends { task_status: string }> {
	private readonly watched = new Map<string, Watched<T>>();

	private loop?: Promise<void>;

	constructor(
		private readonly fetchTasks: (taskIds: string[]) => Promise<Map<string, T>>,
		private readonly schedule: PollSchedule,
		private readonly signal?: AbortSignal,
		private readonly isFinal: (error: unknown) => boolean = () => true,
	) {}

	/** Resolves with the task once it has ended (succeed or failed); rejects on timeout or cancel. */
	async waitFor(taskId: string, timeoutMs: number): Promise<T> {
		const now = Date.now();
		const done = new Promise<T>((resolve, reject) => {
			const waiter = { deadline: now + timeoutMs, since: now, resolve, reject };
			const watched = this.watched.get(taskId);
			if (watched) watched.waiters.push(waiter);
			else {
				const { minIntervalMs } = this.schedule;
				this.watched.set(taskId, {
					taskId,
					startedAt: now,
					dueAt: now + minIntervalMs,
					intervalMs: minIntervalMs,
					waiters: [waiter],
				});
			}
		});
		this.loop ??= this.run().finally(() => (this.loop = undefined));
		return await done;
	}

	private async run(): Promise<void> {
		while (this.watched.size > 0) {
			const nextDue = Math.min(
				...[...this.watched.values()].map((entry) =>
					Math.min(entry.dueAt, ...entry.waiters.map((waiter) => waiter.deadline)),
				),
			);
			try {
				await sleepUnlessCancelled(
					Math.max(0, Math.min(nextDue - Date.now(), this.schedule.minIntervalMs)),
					this.signal,
				);
			} catch (error) {
				for (const entry of this.watched.values()) settleWaiters(entry, { error });
				this.watched.clear();
				return;
			}
			await this.tick();
		}
	}

	private async tick(): Promise<void> {
		const now = Date.now();
		for (const entry of [...this.watched.values()]) {
			for (const waiter of entry.waiters.filter((candidate) => now >= candidate.deadline)) {
				waiter.reject(new WaitTimeoutError(entry.taskId, now - waiter.since));
			}
			entry.waiters = entry.waiters.filter((waiter) => now < waiter.deadline);
			if (entry.waiters.length === 0) this.watched.delete(entry.taskId);
		}
		const pending = [...this.watched.values()];
		// Timers fire a little late, never early: a few ms of slack is enough.
		if (!pending.some((entry) => entry.dueAt <= now + TIMER_SLACK_MS)) return;
		// When one task is due, those in the second half of their wait are checked with it, so a batch
		// submitted over a few seconds shares one list request per tick instead of drifting apart into
		// several. Checking early never lengthens a wait, so the detection lag keeps its bound.
		const due = pending.filter(
			(entry) => entry.dueAt <= now + Math.max(TIMER_SLACK_MS, entry.intervalMs / 2),
		);
		let tasks: Map<string, T>;
		try {
			tasks = await this.fetchTasks(due.map((entry) => entry.taskId));
		} catch (error) {
			if (this.isFinal(error)) {
				for (const entry of due) {
					this.watched.delete(entry.taskId);
					settleWaiters(entry, { error });
				}
			}
			tasks = new Map();
		}
		const checkedAt = Date.now();
		for (const entry of due) {
			const task = tasks.get(entry.taskId);
			if (task && (task.task_status === 'succeed' || task.task_status === 'failed')) {
				this.watched.delete(entry.taskId);
				settleWaiters(entry, { task });
			} else {
				entry.intervalMs = nextPollDelay(checkedAt - entry.startedAt, this.schedule);
				entry.dueAt = checkedAt + entry.intervalMs;
			}
		}
	}
}

/** Resolves every waiter of the task with it, or rejects them all with the error. */
function settleWaiters<T>(entry: Watched<T>, outcome: { task: T } | { error: unknown }): void {
	for (const waiter of entry.waiters) {
		if ('task' in outcome) waiter.resolve(outcome.task);
		else waiter.reject(outcome.error);
	}
}
