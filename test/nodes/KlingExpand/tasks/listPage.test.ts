import { listedAmong, readListPage } from '../../../../nodes/KlingExpand/tasks/listPage';
import { LIST_PAGE } from '../../../../nodes/shared/kling';
import { KlingFailure } from '../../../../nodes/shared/transport/failure';
import * as transport from '../../../../nodes/shared/transport/request';
import { fakeContext } from '../../../harness/context';
import { fakeKling, task } from '../../../harness/fakeKling';

// Kling is replaced by a task table: these tests are about the list requests and what is read.
jest.mock('../../../../nodes/shared/transport/request', () => ({ klingRequest: jest.fn() }));

const klingRequest = jest.mocked(transport.klingRequest);
const policy = { attempts: 1, retryDelayMs: 0, timeoutMs: 1000 };

beforeEach(() => klingRequest.mockReset());

describe('readListPage', () => {
	it("asks for Kling's largest page unless told, newest first, leaving out entries that are not tasks", async () => {
		const kling = fakeKling([task(0, 'succeed'), task(1, 'processing')]);
		klingRequest.mockImplementation(async (ctx, request) => [
			...((await kling.request(ctx, request)) as unknown[]),
			{ hello: 1 },
		]);
		const page = await readListPage(fakeContext(), 1, policy);
		expect(kling.requests).toEqual([
			{ method: 'GET', qs: { pageNum: 1, pageSize: LIST_PAGE.maxSize } },
		]);
		expect(page.tasks.map((entry) => entry.task_id)).toEqual(['t-1', 't-0']);
		expect(page.more).toBe(false);
	});

	it('says more may follow a full page, but not after the last page Kling serves', async () => {
		const kling = fakeKling([task(0, 'succeed'), task(1, 'succeed'), task(2, 'succeed')]);
		klingRequest.mockImplementation(kling.request);
		expect((await readListPage(fakeContext(), 1, policy, 2)).more).toBe(true);
		expect((await readListPage(fakeContext(), 2, policy, 2)).more).toBe(false);
		klingRequest.mockResolvedValue([task(0, 'succeed')]);
		expect((await readListPage(fakeContext(), LIST_PAGE.maxNum, policy, 1)).more).toBe(false);
		expect((await readListPage(fakeContext(), LIST_PAGE.maxNum - 1, policy, 1)).more).toBe(true);
	});

	it('passes a failure on', async () => {
		klingRequest.mockRejectedValue(new KlingFailure('api', 'denied', 1002, 401));
		await expect(readListPage(fakeContext(), 1, policy)).rejects.toBeInstanceOf(KlingFailure);
	});
});

describe('listedAmong', () => {
	it('finds the tasks asked for by either id, each under the id it was asked for', async () => {
		klingRequest.mockImplementation(fakeKling([task(0, 'succeed'), task(1, 'failed')]).request);
		const page = await listedAmong(fakeContext(), ['t-0', 'e-1', 't-7'], policy);
		expect([...page!.found.keys()].sort()).toEqual(['e-1', 't-0']);
		expect(page!.found.get('e-1')?.task_id).toBe('t-1');
	});

	it('answers undefined when Kling answers with a failure: the tasks are asked for one by one', async () => {
		klingRequest.mockImplementation(fakeKling([task(0, 'succeed')], { list: false }).request);
		expect(await listedAmong(fakeContext(), ['t-0'], policy)).toBeUndefined();
	});

	it('throws what is not an answer from Kling', async () => {
		klingRequest.mockRejectedValue(new TypeError('a bug'));
		await expect(listedAmong(fakeContext(), ['t-0'], policy)).rejects.toBeInstanceOf(TypeError);
	});
});
