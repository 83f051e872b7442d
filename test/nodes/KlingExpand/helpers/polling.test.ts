import {
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
			expect(seen!.at - endedAt).toBeLessThanOrEqual(nextPollDelay(3000, schedule) + 50);
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
