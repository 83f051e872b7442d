import {
	nextCheckAt,
	nextPollDelay,
	TaskWatcher,
	type PollSchedule,
} from '../../../../nodes/KlingExpand/helpers/polling';

const schedule: PollSchedule = { minIntervalMs: 40, maxIntervalMs: 400, growth: 0.1 };

/** Tasks that end `durationMs` after they were watched; records every fetch the watcher makes. */
function fakeProvider(durationMs: number) {
	const startedAt = new Map<string, number>();
	const fetches: { at: number; taskIds: string[] }[] = [];
	const endedAt = new Map<string, number>();
	const fetchTasks = async (taskIds: string[]) => {
		const now = Date.now();
		fetches.push({ at: now, taskIds });
		return new Map(
			taskIds.map((taskId) => {
				const done = now - (startedAt.get(taskId) ?? now) >= durationMs;
				if (done && !endedAt.has(taskId))
					endedAt.set(taskId, (startedAt.get(taskId) ?? now) + durationMs);
				return [taskId, { task_status: done ? 'succeed' : 'processing' }] as const;
			}),
		);
	};
	return { startedAt, fetches, endedAt, fetchTasks };
}

describe('nextPollDelay', () => {
	it('waits a fixed share of the time already waited, within the minimum and maximum', () => {
		expect(nextPollDelay(0, schedule)).toBe(40);
		expect(nextPollDelay(1000, schedule)).toBe(100);
		expect(nextPollDelay(60_000, schedule)).toBe(400);
	});
});

describe('nextCheckAt', () => {
	it('sends one check for tasks due a few ms apart, at the last of them, so none is checked before its time', () => {
		const states = [0, 2, 3].map((startedAt) => ({ startedAt, checkedAt: startedAt }));
		// Own times 40, 42, 43, all within 10 % of the interval (4 ms) of the first.
		expect(nextCheckAt(states, schedule)).toBe(43);
	});

	it('does not hold an early task back for one due much later', () => {
		const states = [0, 30].map((startedAt) => ({ startedAt, checkedAt: startedAt }));
		expect(nextCheckAt(states, schedule)).toBe(40);
	});
});

describe('nextCheckAt, once task lengths are learnt', () => {
	const slow: PollSchedule = { minIntervalMs: 1000, maxIntervalMs: 15_000, growth: 0.1 };
	const fresh = (startedAt: number) => ({ startedAt, checkedAt: startedAt });

	it('checks tasks as long as the ended ones once, just after they are expected to end, together', () => {
		// Ended tasks took 3 s; three started 0, 40 and 60 ms ago are due at 3000–3060 (window 100 ms).
		const equal = { shortestMs: 3000, longestMs: 3000 };
		expect(nextCheckAt([0, 40, 60].map(fresh), slow, equal)).toBe(3060);
		// A check for another task 100 ms before this one's expected end does not push it back.
		expect(nextCheckAt([{ startedAt: 0, checkedAt: 2900 }], slow, equal)).toBe(3000);
		// Seen running at its expected end: checked again a fifth of an interval later, once…
		expect(nextCheckAt([{ startedAt: 0, checkedAt: 3000 }], slow, equal)).toBe(3200);
		// …then an interval later.
		expect(nextCheckAt([{ startedAt: 0, checkedAt: 3200 }], slow, equal)).toBe(4200);
		// Without what was learnt, the first check comes an interval after the first start.
		expect(nextCheckAt([0, 40, 60].map(fresh), slow)).toBe(1060);
	});

	it('checks sparsely before the earliest expected end, at most the longest interval apart', () => {
		expect(nextCheckAt([fresh(0)], slow, { shortestMs: 40_000, longestMs: 40_000 })).toBe(15_000);
	});

	it('checks densely between the shortest and the longest length seen, a check for any task counting for all', () => {
		const spread = { shortestMs: 2000, longestMs: 6000 };
		// Not before 2 s…
		expect(nextCheckAt([fresh(0)], slow, spread)).toBe(2000);
		// …then every interval after the last check, whichever task it was sent for…
		expect(nextCheckAt([{ startedAt: 0, checkedAt: 2500 }], slow, spread)).toBe(3500);
		// …and at the latest at the longest length.
		expect(nextCheckAt([{ startedAt: 0, checkedAt: 5500 }], slow, spread)).toBe(6000);
	});

	it('falls back to an interval after the last check once it runs longer than every task seen', () => {
		expect(
			nextCheckAt([{ startedAt: 0, checkedAt: 3300 }], slow, { shortestMs: 3000, longestMs: 3000 }),
		).toBe(4300);
		// Lengths that differ by more than a fifth of an interval: no quick second look.
		expect(
			nextCheckAt([{ startedAt: 0, checkedAt: 6000 }], slow, { shortestMs: 2000, longestMs: 6000 }),
		).toBe(7000);
	});
});

describe('TaskWatcher', () => {
	it('checks a batch submitted over a while in one fetch per tick, not one per task', async () => {
		const provider = fakeProvider(3000);
		const watcher = new TaskWatcher(provider.fetchTasks, schedule);
		const first = Date.now();
		const waits: Promise<unknown>[] = [];
		for (let index = 0; index < 8; index++) {
			const taskId = `task-${index}`;
			provider.startedAt.set(taskId, Date.now());
			waits.push(watcher.waitFor(taskId, 10_000));
			// Creates answered 30 ms apart: the last task starts 210 ms after the first.
			await new Promise((resolve) => setTimeout(resolve, 30));
		}
		await Promise.all(waits);

		// Once all 8 are watched (210 ms), each tick asks about all of them in one fetch until the first ends.
		const beforeAnyEnded = provider.fetches.filter(
			(fetch) => fetch.at - first >= 300 && fetch.at - first < 2950,
		);
		expect(beforeAnyEnded.length).toBeGreaterThan(10);
		expect(beforeAnyEnded.map((fetch) => fetch.taskIds.length)).toEqual(
			beforeAnyEnded.map(() => 8),
		);
		// And checking early never made a task wait longer to be seen than its schedule allows.
		for (const [taskId, endedAt] of provider.endedAt) {
			const seen = provider.fetches.find(
				(fetch) => fetch.at >= endedAt && fetch.taskIds.includes(taskId),
			);
			// Plus what a timer may run late on a shared, busy machine.
			expect(seen!.at - endedAt).toBeLessThanOrEqual(nextPollDelay(3000, schedule) + 150);
		}
	});

	it('answers every wait for the same task, and times out each one, instead of forgetting the first', async () => {
		const provider = fakeProvider(200);
		provider.startedAt.set('shared', Date.now());
		const watcher = new TaskWatcher(provider.fetchTasks, schedule);
		const [first, second] = await Promise.all([
			watcher.waitFor('shared', 5000),
			watcher.waitFor('shared', 5000),
		]);
		expect([first.task_status, second.task_status]).toEqual(['succeed', 'succeed']);

		const never = fakeProvider(60_000);
		never.startedAt.set('stuck', Date.now());
		const stuck = new TaskWatcher(never.fetchTasks, schedule);
		const waits = await Promise.allSettled([
			stuck.waitFor('stuck', 300),
			stuck.waitFor('stuck', 300),
		]);
		expect(
			waits.map((wait) => wait.status === 'rejected' && (wait.reason as Error).message),
		).toEqual(['Task stuck did not finish within 0 s', 'Task stuck did not finish within 0 s']);
	});
});

describe('TaskWatcher, placing a task by the provider’s created_at', () => {
	afterEach(() => jest.useRealTimers());

	/**
	 * The provider's clock runs 100 s ahead of ours. Task A is created and answered at once at 0;
	 * task B is created at 2500 but its answer arrives only at 2800 (a slow upload's answer). Both
	 * take 3 s, so B ends at 5500.
	 */
	async function checksOfB(passCreatedAt: boolean, unit = 1): Promise<number[]> {
		const epoch = 1_800_000_000_000;
		jest.useFakeTimers({ now: epoch });
		const ahead = 100_000;
		const created = new Map([
			['A', 0],
			['B', 2500],
		]);
		const fetches: Array<{ at: number; taskIds: string[] }> = [];
		const fetchTasks = async (taskIds: string[]) => {
			const now = Date.now();
			fetches.push({ at: now, taskIds });
			return new Map(
				taskIds.map((taskId) => {
					const start = epoch + created.get(taskId)!;
					const done = now >= start + 3000;
					return [
						taskId,
						{
							task_status: done ? 'succeed' : 'processing',
							created_at: start + ahead,
							updated_at: done ? start + 3000 + ahead : now + ahead,
						},
					] as const;
				}),
			);
		};
		const watcher = new TaskWatcher(
			fetchTasks,
			{ minIntervalMs: 1000, maxIntervalMs: 15_000, growth: 0.1 },
			undefined,
			() => true,
			(task) => task.updated_at - task.created_at,
		);
		// `unit` 1000: a provider that answered created_at in seconds.
		const a = watcher.waitFor('A', 60_000, passCreatedAt ? (epoch + ahead) / unit : undefined);
		await jest.advanceTimersByTimeAsync(2800);
		const b = watcher.waitFor(
			'B',
			60_000,
			passCreatedAt ? (epoch + 2500 + ahead) / unit : undefined,
		);
		await jest.advanceTimersByTimeAsync(10_000);
		await Promise.all([a, b]);
		return fetches
			.filter((fetch) => fetch.at - epoch > 3000 && fetch.taskIds.includes('B'))
			.map((fetch) => fetch.at - epoch);
	}

	it('checks a task just after its own end, though its create was answered late', async () => {
		// From created_at: B is checked once, at its end (the provider's clock offset is learnt from A).
		expect(await checksOfB(true)).toEqual([5500]);
	});

	it('without created_at, counts from the answer, and the check comes as much later', async () => {
		expect(await checksOfB(false)).toEqual([5800]);
	});

	it('ignores a created_at that cannot be milliseconds of a nearby clock (seconds, say)', async () => {
		expect(await checksOfB(true, 1000)).toEqual([5800]);
	});
});
