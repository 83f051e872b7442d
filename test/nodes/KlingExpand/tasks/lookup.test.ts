import { endedAmong, findTask, queryTasks } from '../../../../nodes/KlingExpand/tasks/lookup';
import { normaliseTask } from '../../../../nodes/shared/task';
import type { KlingTask } from '../../../../nodes/shared/task';
import { KlingFailure } from '../../../../nodes/shared/transport/failure';
import * as transport from '../../../../nodes/shared/transport/request';
import { fakeContext } from '../../../harness/context';
import type { FakeKlingOptions } from '../../../harness/fakeKling';
import { fakeKling, task } from '../../../harness/fakeKling';

// Kling is replaced by a task table: these tests are about which requests a lookup makes.
jest.mock('../../../../nodes/shared/transport/request', () => ({ klingRequest: jest.fn() }));

const klingRequest = jest.mocked(transport.klingRequest);
const policy = { attempts: 1, retryDelayMs: 0, timeoutMs: 1000 };

function useKling(tasks: KlingTask[], options?: FakeKlingOptions) {
	const kling = fakeKling(tasks, options);
	klingRequest.mockImplementation(kling.request);
	return kling;
}

const idOf = (found: unknown) => normaliseTask(found)?.task_id;

beforeEach(() => klingRequest.mockReset());

describe('findTask', () => {
	it('asks for a task_id on the query path only, once', async () => {
		const kling = useKling([task(1, 'succeed')]);
		expect(idOf(await findTask(fakeContext(), 't-1', policy, 'taskId'))).toBe('t-1');
		expect(await findTask(fakeContext(), 't-9', policy, 'taskId')).toBeUndefined();
		expect(kling.requests).toEqual([
			{ method: 'GET', path: '/t-1' },
			{ method: 'GET', path: '/t-9' },
		]);
	});

	it('tries each external-id form until one answers, and starts with that one next time', async () => {
		const kling = useKling([task(1, 'succeed'), task(2, 'succeed')], {
			externalIdForms: ['collection'],
		});
		const ctx = fakeContext();
		const lookups = {};
		expect(idOf(await findTask(ctx, 'e-1', policy, 'externalId', lookups))).toBe('t-1');
		expect(kling.requests).toEqual([
			{ method: 'GET', path: '/e-1' },
			{ method: 'GET', path: '/e-1', qs: { external_task_id: 'true' } },
			{ method: 'GET', qs: { external_task_id: 'e-1' } },
		]);
		kling.requests.length = 0;
		expect(idOf(await findTask(ctx, 'e-2', policy, 'externalId', lookups))).toBe('t-2');
		expect(kling.requests).toEqual([{ method: 'GET', qs: { external_task_id: 'e-2' } }]);
	});

	it('takes no other task from a collection answer that ignored the filter', async () => {
		useKling([task(2, 'succeed'), task(3, 'succeed')], { externalIdForms: [] });
		expect(await findTask(fakeContext(), 'e-1', policy, 'externalId')).toBeUndefined();
	});

	it('throws a failure that is not "not found": the task may exist', async () => {
		useKling([task(1, 'succeed')], { failingIds: ['e-1'] });
		await expect(findTask(fakeContext(), 'e-1', policy)).rejects.toBeInstanceOf(KlingFailure);
	});
});

describe('queryTasks', () => {
	it('reads a batch from one list page, sized to the batch, and queries what the page missed', async () => {
		const kling = useKling([task(1, 'processing'), task(2, 'succeed'), task(3, 'failed')]);
		const { tasks, failures } = await queryTasks(fakeContext(), ['t-1', 'e-2', 't-7'], policy);
		expect([...tasks.keys()].sort()).toEqual(['e-2', 't-1']);
		expect(tasks.get('e-2')?.task_id).toBe('t-2');
		expect(failures.size).toBe(0);
		expect(kling.requests[0]).toEqual({ method: 'GET', qs: { pageNum: 1, pageSize: 30 } });
		expect(kling.requests.slice(1).some((request) => request.path === '/t-7')).toBe(true);
	});

	it('asks for at most a full page of 500 however large the batch', async () => {
		const kling = useKling([]);
		const ids = Array.from({ length: 400 }, (_, index) => `t-${index}`);
		klingRequest.mockImplementation(async (ctx, request) =>
			request.qs?.pageNum
				? await kling.request(ctx, request)
				: ids.map((id) => ({ task_id: id, task_status: 'succeed' })),
		);
		await queryTasks(fakeContext(), ids, policy);
		expect(kling.requests[0].qs).toEqual({ pageNum: 1, pageSize: 500 });
	});

	it('queries a single task directly, without a list page', async () => {
		const kling = useKling([task(1, 'succeed')]);
		const { tasks } = await queryTasks(fakeContext(), ['t-1'], policy);
		expect(tasks.get('t-1')?.task_status).toBe('succeed');
		expect(kling.requests).toEqual([{ method: 'GET', path: '/t-1' }]);
	});

	it('names a task whose query failed, and still answers the others', async () => {
		useKling([task(1, 'succeed'), task(2, 'succeed')], { list: false, failingIds: ['t-2'] });
		const { tasks, failures } = await queryTasks(fakeContext(), ['t-1', 't-2'], policy);
		expect([...tasks.keys()]).toEqual(['t-1']);
		expect([...failures.keys()]).toEqual(['t-2']);
		expect(failures.get('t-2')).toBeInstanceOf(KlingFailure);
	});
});

describe('endedAmong', () => {
	it('reads one list page, and queries only the oldest held task the page missed', async () => {
		const kling = useKling([task(0, 'succeed'), task(1, 'processing'), task(2, 'failed')]);
		const ended = await endedAmong(fakeContext(), ['t-9', 't-0', 't-1', 't-2', 't-8'], policy);
		// t-9 and t-8 are unknown to Kling: a task it no longer knows holds no slot, but only the
		// oldest missed one is asked about in this check.
		expect([...ended].sort()).toEqual(['t-0', 't-2', 't-9']);
		expect(kling.requests[0]).toEqual({ method: 'GET', qs: { pageNum: 1, pageSize: 500 } });
		expect(kling.requests.slice(1).every((request) => !request.qs?.pageNum)).toBe(true);
		expect(kling.requests.some((request) => request.path === '/t-8')).toBe(false);
	});

	it('costs one request when the page shows every held task', async () => {
		const kling = useKling([task(0, 'succeed'), task(1, 'processing')]);
		expect([...(await endedAmong(fakeContext(), ['t-0', 't-1'], policy))]).toEqual(['t-0']);
		expect(kling.requests).toHaveLength(1);
	});

	it('fails the check when the query for a missed task fails: it is asked again next check', async () => {
		useKling([task(0, 'succeed')], { failingIds: ['t-9'] });
		await expect(endedAmong(fakeContext(), ['t-9', 't-0'], policy)).rejects.toBeInstanceOf(
			KlingFailure,
		);
	});
});
