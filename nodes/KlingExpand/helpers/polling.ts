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

/**
 * Checks due within this share of the poll interval of the first one are sent together, at the
 * last of them: tasks created a few milliseconds apart share one list request, and none is checked
 * before its own time.
 */
const GROUP_SHARE = 0.1;

/**
 * When the run's tasks take about the same time (lengths within this share of the poll interval), a
 * task still running at its expected end is late by little: it is checked again after this share
 * of the interval, not a whole interval later.
 */
const RECHECK_SHARE = 0.2;

/**
 * A created_at further than this from our clock is not used to place a task: seconds where
 * milliseconds were meant, or a task reused from long ago, which tells nothing of the clocks.
 */
const PLAUSIBLE_CLOCK_GAP_MS = 24 * 60 * 60 * 1000;

/** Where a task stands for the schedule: when it was submitted and when it was last seen running. */
export interface CheckState {
	startedAt: number;
	checkedAt: number;
}

/** The shortest and longest task of the run so far, from Kling's created and updated times. */
export interface LearntLengths {
	shortestMs: number;
	longestMs: number;
}

/**
 * When to send the next check for all these tasks.
 * - Nothing learnt, or a task already older than every task seen: an interval (nextPollDelay) after
 *   its last check.
 * - Once tasks of the run have ended: each task on its own clock, expected to end between its start plus the
 *   shortest and plus the longest length seen. Before that it is not checked on its own (at most
 *   the longest interval apart); from then on it is checked as densely as nextPollDelay says, a
 *   check for any task counting for all, and at the latest at its start plus the longest length.
 *   So a batch of equal tasks is checked once per wave, just after its tasks end.
 * The check found that way is moved to the last check time falling within a short window after
 * it, so one request serves every task due at about the same moment.
 */
export function nextCheckAt(
	states: CheckState[],
	schedule: PollSchedule,
	learnt?: LearntLengths,
): number {
	const due = states.map((state) => {
		const waited = state.checkedAt - state.startedAt;
		// Nothing learnt yet (or overdue): an interval after the last check, which every task of the
		// batch shares, so a batch submitted over a while costs one request per interval.
		if (!learnt || waited >= learnt.longestMs) {
			const recheck = RECHECK_SHARE * schedule.minIntervalMs;
			const justLate =
				learnt !== undefined &&
				learnt.longestMs - learnt.shortestMs <= recheck &&
				waited < learnt.longestMs + recheck;
			return state.checkedAt + (justLate ? recheck : nextPollDelay(waited, schedule));
		}
		// Never later than the longest length seen: a check for another task just before the task's
		// expected end must not push its own check a whole interval past it.
		const dense = Math.min(
			state.checkedAt + nextPollDelay(waited, schedule),
			state.startedAt + learnt.longestMs,
		);
		return Math.min(
			Math.max(state.startedAt + learnt.shortestMs, dense),
			state.checkedAt + schedule.maxIntervalMs,
		);
	});
	const window = Math.min(...due) + GROUP_SHARE * schedule.minIntervalMs;
	return Math.max(...due.filter((at) => at <= window));
}

interface Watched<T> extends CheckState {
	taskId: string;
	/** When waitFor was called (after the create's answer): the latest the task can have started. */
	answeredAt: number;
	/** The provider's created_at (its own clock), when the create's answer gave it. */
	createdAt?: number;
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
 * Waits for many tasks with one polling loop. Each task has its own check times (nextCheckAt); when
 * one is due, every watched task is asked about in the same batch (`fetchTasks` answers them with a
 * single list request), so a task is seen soon after its own end and a batch still costs one
 * request per check. A fetch error marked `final` ends the waits it concerned; any other fetch error
 * is left for the next check.
 */
export class TaskWatcher<T extends { task_status: string }> {
	private readonly watched = new Map<string, Watched<T>>();

	private loop?: Promise<void>;

	/** How long the run's succeeded tasks took: what the schedule expects of the others. */
	private learnt?: LearntLengths;

	/**
	 * The least the provider's clock can be ahead of ours: every task was created before its create
	 * was answered, so created_at minus our answer time is at most the true offset. A task's start is
	 * then placed at its created_at minus this, never earlier than it truly started, and no later
	 * than its answer; the fastest answer of the run makes it exact to within that answer's delay.
	 */
	private clockOffsetMs?: number;

	constructor(
		private readonly fetchTasks: (taskIds: string[]) => Promise<Map<string, T>>,
		private readonly schedule: PollSchedule,
		private readonly signal?: AbortSignal,
		private readonly isFinal: (error: unknown) => boolean = () => true,
		/** How long an ended task took, when the provider says (created to last update). */
		private readonly lengthOf: (task: T) => number | undefined = () => undefined,
	) {}

	/** Failed tasks are left out: a refusal ends a task early and says nothing of the others. */
	private learn(task: T): void {
		const length = this.lengthOf(task);
		if (task.task_status !== 'succeed' || length === undefined || !(length > 0)) return;
		this.learnt = {
			shortestMs: Math.min(length, this.learnt?.shortestMs ?? length),
			longestMs: Math.max(length, this.learnt?.longestMs ?? length),
		};
	}

	/**
	 * Resolves with the task once it has ended (succeed or failed); rejects on timeout or cancel.
	 * `createdAt`: the provider's created_at from the create's answer, which places the task's start
	 * closer than the answer's arrival does.
	 */
	async waitFor(taskId: string, timeoutMs: number, createdAt?: number): Promise<T> {
		const now = Date.now();
		const plausibleCreatedAt =
			createdAt !== undefined && Math.abs(createdAt - now) < PLAUSIBLE_CLOCK_GAP_MS
				? createdAt
				: undefined;
		const done = new Promise<T>((resolve, reject) => {
			const waiter = { deadline: now + timeoutMs, since: now, resolve, reject };
			const watched = this.watched.get(taskId);
			if (watched) watched.waiters.push(waiter);
			else
				this.watched.set(taskId, {
					taskId,
					startedAt: now,
					checkedAt: now,
					answeredAt: now,
					createdAt: plausibleCreatedAt,
					waiters: [waiter],
				});
		});
		if (plausibleCreatedAt !== undefined) this.placeStarts(plausibleCreatedAt - now);
		this.loop ??= this.run().finally(() => (this.loop = undefined));
		return await done;
	}

	/** Tightens the clock offset with one more created/answered pair and re-places every start. */
	private placeStarts(offsetAtLeastMs: number): void {
		this.clockOffsetMs = Math.max(offsetAtLeastMs, this.clockOffsetMs ?? offsetAtLeastMs);
		for (const entry of this.watched.values())
			if (entry.createdAt !== undefined)
				entry.startedAt = Math.min(entry.answeredAt, entry.createdAt - this.clockOffsetMs);
	}

	private async run(): Promise<void> {
		while (this.watched.size > 0) {
			const entries = [...this.watched.values()];
			const wakeAt = Math.min(
				nextCheckAt(entries, this.schedule, this.learnt),
				...entries.flatMap((entry) => entry.waiters.map((waiter) => waiter.deadline)),
			);
			try {
				// Woken at least every interval, so tasks watched meanwhile are planned in.
				await sleepUnlessCancelled(
					Math.max(0, Math.min(wakeAt - Date.now(), this.schedule.minIntervalMs)),
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
		if (
			pending.length === 0 ||
			nextCheckAt(pending, this.schedule, this.learnt) > now + TIMER_SLACK_MS
		)
			return;
		let tasks: Map<string, T>;
		try {
			tasks = await this.fetchTasks(pending.map((entry) => entry.taskId));
		} catch (error) {
			if (this.isFinal(error)) {
				for (const entry of pending) {
					this.watched.delete(entry.taskId);
					settleWaiters(entry, { error });
				}
			}
			tasks = new Map();
		}
		// As before the learnt schedule: the next interval counts from the answer.
		const checkedAt = Date.now();
		for (const entry of pending) {
			const task = tasks.get(entry.taskId);
			if (!task) continue;
			if (task.task_status === 'succeed' || task.task_status === 'failed') {
				this.watched.delete(entry.taskId);
				this.learn(task);
				settleWaiters(entry, { task });
			} else entry.checkedAt = checkedAt;
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
