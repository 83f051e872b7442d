import {
	lastToEnd,
	probeBatch,
} from '../../../../../nodes/KlingExpand/actions/submitAndWait/probe';
import type { KlingTask } from '../../../../../nodes/shared/task';
import * as transport from '../../../../../nodes/shared/transport/request';
import { fakeContext } from '../../../../harness/context';
import type { FakeKlingOptions } from '../../../../harness/fakeKling';
import { fakeKling, task } from '../../../../harness/fakeKling';

// Kling is replaced by a task table: these tests are about which requests the probe makes.
jest.mock('../../../../../nodes/shared/transport/request', () => ({ klingRequest: jest.fn() }));

const klingRequest = jest.mocked(transport.klingRequest);
const policy = { attempts: 1, retryDelayMs: 0, timeoutMs: 1000 };
const batchIds = (count: number) => Array.from({ length: count }, (_, index) => `e-${index}`);
const taskIds = (tasks: Array<KlingTask | undefined>) => tasks.map((entry) => entry?.task_id);

function useKling(tasks: KlingTask[], options?: FakeKlingOptions) {
	const kling = fakeKling(tasks, options);
	klingRequest.mockImplementation(kling.request);
	return kling;
}

beforeEach(() => klingRequest.mockReset());

describe('probeBatch', () => {
	it('finds an ended batch complete, in item order, with one query and one list page', async () => {
		const kling = useKling([task(0, 'succeed'), task(1, 'succeed'), task(2, 'failed')]);
		const probe = await probeBatch(fakeContext(), batchIds(3), 0, policy);
		expect(probe.complete).toBe(true);
		expect(probe.requests).toBe(2);
		expect(probe.complete && taskIds(probe.tasks)).toEqual(['t-0', 't-1', 't-2']);
		expect(kling.requests).toEqual([
			{ method: 'GET', path: '/e-2' },
			{ method: 'GET', qs: { pageNum: 1, pageSize: 500 } },
		]);
	});

	it('stops at the newest other task while it still runs: one request', async () => {
		const kling = useKling([task(0, 'succeed'), task(1, 'succeed'), task(2, 'processing')]);
		expect(await probeBatch(fakeContext(), batchIds(3), 0, policy)).toMatchObject({
			complete: false,
			requests: 1,
			unfinished: [2],
		});
		expect(kling.requests).toHaveLength(1);
	});

	it("names the callback's own task when Kling still shows it running (Kling's query lags)", async () => {
		useKling([task(0, 'processing'), task(1, 'succeed'), task(2, 'succeed')]);
		expect(await probeBatch(fakeContext(), batchIds(3), 0, policy)).toMatchObject({
			complete: false,
			unfinished: [0],
		});
	});

	it('does not ask again for tasks an earlier probe saw end', async () => {
		const kling = useKling([task(0, 'succeed'), task(1, 'succeed'), task(2, 'succeed')]);
		const ended = new Map([
			[1, task(1, 'succeed')],
			[2, task(2, 'succeed')],
		]);
		const probe = await probeBatch(fakeContext(), batchIds(3), 0, policy, { ended });
		expect(probe.complete && taskIds(probe.tasks)).toEqual(['t-0', 't-1', 't-2']);
		expect(kling.requests).toEqual([{ method: 'GET', path: '/e-0' }]);
	});

	it('asks first for the task created last, by the created_at hints', async () => {
		const kling = useKling([task(0, 'processing'), task(1, 'succeed'), task(2, 'succeed')]);
		await probeBatch(fakeContext(), batchIds(3), 2, policy, { createdAt: [3000, 1000, 2000] });
		expect(kling.requests[0]).toEqual({ method: 'GET', path: '/e-0' });
	});

	it('answers an item Kling holds no task for as undefined: it was never submitted', async () => {
		useKling([task(0, 'succeed'), task(2, 'succeed')]);
		const probe = await probeBatch(fakeContext(), batchIds(3), 0, policy);
		expect(probe.complete && taskIds(probe.tasks)).toEqual(['t-0', undefined, 't-2']);
	});

	it('asks for the tasks one by one when the provider has no list route', async () => {
		const kling = useKling([task(0, 'succeed'), task(1, 'succeed'), task(2, 'succeed')], {
			list: false,
		});
		const probe = await probeBatch(fakeContext(), batchIds(3), 0, policy);
		expect(probe.complete && taskIds(probe.tasks)).toEqual(['t-0', 't-1', 't-2']);
		expect(kling.requests.map((request) => request.path ?? 'list')).toEqual([
			'/e-2',
			'list',
			'/e-1',
			'/e-0',
		]);
	});
});

describe('lastToEnd', () => {
	it('is the item whose task ended last, the later item on a tie, skipping missing tasks', () => {
		expect(
			lastToEnd([
				task(0, 'succeed', { updated: 5 }),
				task(1, 'succeed', { updated: 9 }),
				undefined,
			]),
		).toBe(1);
		expect(lastToEnd([task(0, 'succeed', { updated: 9 }), task(1, 'failed', { updated: 9 })])).toBe(
			1,
		);
		expect(lastToEnd([undefined, undefined])).toBeUndefined();
	});
});
