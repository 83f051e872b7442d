import {
	checkBatch,
	QUERY_LAG,
} from '../../../../../nodes/KlingExpand/actions/submitAndWait/batchCheck';
import type { ProbeResult } from '../../../../../nodes/KlingExpand/actions/submitAndWait/probe';
import type { KlingTask } from '../../../../../nodes/shared/task';
import { task } from '../../../../harness/fakeKling';

let batchCount = 0;
/** Each test checks its own batch: the state is per batch. */
const newBatch = () => `execution/batch-${++batchCount}`;

const complete = (tasks: KlingTask[]): ProbeResult => ({ complete: true, tasks, requests: 1 });
const running = (tasks: KlingTask[], unfinished: number[]): ProbeResult => ({
	complete: false,
	tasks,
	unfinished,
	requests: 1,
});

/** A probe that answers when the test says so. */
function heldProbe() {
	const calls: Array<(result: ProbeResult) => void> = [];
	const probe = jest.fn(
		async (_ended: ReadonlyMap<number, KlingTask>) =>
			await new Promise<ProbeResult>((resolve) => calls.push(resolve)),
	);
	const answer = async (result: ProbeResult) => {
		while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
		calls.shift()!(result);
	};
	return { probe, answer };
}

describe('checkBatch', () => {
	it('answers a callback that arrives during a check at once, without probing; the check reads the batch again for it and resumes', async () => {
		const batch = newBatch();
		const { probe, answer } = heldProbe();
		const first = checkBatch(batch, 0, probe);
		const joined = await checkBatch(batch, 1, probe);
		expect(joined).toEqual({ resume: false, requests: 0 });
		expect(probe).toHaveBeenCalledTimes(1);
		// The first read still saw item 1 running; the second, made on its behalf, sees it ended.
		await answer(running([task(0, 'succeed'), task(1, 'processing')], [1]));
		await answer(complete([task(0, 'succeed'), task(1, 'succeed', { updated: 9000 })]));
		expect(await first).toMatchObject({ resume: true });
		expect(probe).toHaveBeenCalledTimes(2);
	});

	it('does not ask again for a task seen ended, and resumes a batch once', async () => {
		const batch = newBatch();
		const probe = jest
			.fn<Promise<ProbeResult>, [ReadonlyMap<number, KlingTask>]>()
			.mockResolvedValueOnce(running([task(0, 'succeed'), task(1, 'processing')], [1]))
			.mockResolvedValueOnce(complete([task(0, 'succeed'), task(1, 'succeed')]));
		await checkBatch(batch, 0, probe);
		expect((await checkBatch(batch, 1, probe)).resume).toBe(true);
		expect([...probe.mock.calls[1][0].keys()]).toEqual([0]);
		expect(await checkBatch(batch, 1, probe)).toEqual({ resume: false, requests: 0 });
		expect(probe).toHaveBeenCalledTimes(2);
	});

	it('leaves the resume to the last task’s callback while that has not come', async () => {
		const batch = newBatch();
		const ended = [task(0, 'succeed', { updated: 1000 }), task(1, 'succeed', { updated: 2000 })];
		const probe = jest.fn(async () => complete(ended));
		expect((await checkBatch(batch, 0, probe)).resume).toBe(false);
		expect((await checkBatch(batch, 1, probe)).resume).toBe(true);
	});

	it('reads again while every task Kling shows running has reported its end (a lagging query), a bounded number of times', async () => {
		const batch = newBatch();
		const lagging = running([task(0, 'processing'), task(1, 'processing')], [0, 1]);
		const probe = jest.fn(async () => lagging);
		// Item 1 reported its end earlier; its check saw item 0 still running.
		await checkBatch(batch, 1, async () =>
			running([task(0, 'processing'), task(1, 'succeed')], [0]),
		);
		probe.mockResolvedValueOnce(lagging).mockResolvedValueOnce(lagging);
		probe.mockResolvedValueOnce(complete([task(0, 'succeed'), task(1, 'succeed')]));
		expect((await checkBatch(batch, 0, probe)).resume).toBe(true);
		expect(probe).toHaveBeenCalledTimes(3);
	});

	it('does not wait for a task whose end no callback reported: a forged "ended" costs one probe and no wait', async () => {
		const batch = newBatch();
		const probe = jest.fn(async () => running([task(0, 'processing'), task(1, 'processing')], [1]));
		expect(await checkBatch(batch, 0, probe)).toEqual({ resume: false, requests: 1 });
		expect(probe).toHaveBeenCalledTimes(1);
	});

	it(`stops reading again after ${QUERY_LAG.rechecks} reads when no task is seen end`, async () => {
		const batch = newBatch();
		const probe = jest.fn(async () => running([task(0, 'processing')], [0]));
		expect((await checkBatch(batch, 0, probe)).resume).toBe(false);
		expect(probe).toHaveBeenCalledTimes(QUERY_LAG.rechecks + 1);
	}, 20_000);
});
