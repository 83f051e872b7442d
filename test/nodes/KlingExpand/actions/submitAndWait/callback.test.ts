import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import type { Batch, ItemOutcome, ItemRun } from '../../../../../nodes/KlingExpand/actions/batch';
import * as create from '../../../../../nodes/KlingExpand/actions/create';
import { waitSettingsFrom } from '../../../../../nodes/KlingExpand/actions/descriptions';
import type { PreparedCreate } from '../../../../../nodes/KlingExpand/actions/create';
import { execute, finish } from '../../../../../nodes/KlingExpand/actions/submitAndWait/callback';
import {
	claimedBatch,
	resumeKey,
	verifyBatch,
} from '../../../../../nodes/KlingExpand/actions/submitAndWait/resumeUrl';
import { SlotPool } from '../../../../../nodes/KlingExpand/helpers/concurrency';
import * as createOnce from '../../../../../nodes/KlingExpand/tasks/createOnce';
import { newTaskRun } from '../../../../../nodes/KlingExpand/tasks/run';
import { KlingFailure } from '../../../../../nodes/shared/transport/failure';
import { fakeContext } from '../../../../harness/context';

// What one create sends, the create itself and the slot checks are replaced: these tests are about
// callback mode's submit and what it leaves on the waiting items.
jest.mock('../../../../../nodes/KlingExpand/actions/create', () => ({ prepareCreate: jest.fn() }));
jest.mock('../../../../../nodes/KlingExpand/tasks/createOnce', () => ({
	...jest.requireActual('../../../../../nodes/KlingExpand/tasks/createOnce'),
	submitOnce: jest.fn(),
	callbackBatchOf: () => ({ idsExecutionId: 'exec-1', batchId: 'b1' }),
}));
jest.mock('../../../../../nodes/KlingExpand/tasks/lookup', () => ({
	...jest.requireActual('../../../../../nodes/KlingExpand/tasks/lookup'),
	endedAmong: jest.fn(async () => new Set()),
}));

const prepareCreate = jest.mocked(create.prepareCreate);
const submitOnce = jest.mocked(createOnce.submitOnce);

const credentials = { provider: 'kling', authMode: 'apiKey', apiKey: 'unit-test-api-key' };
const expansion = { up: 0.5, down: 0, left: 0, right: 0 };
const ids = createOnce.batchExternalIds('exec-1', 'b1', 2);

function callbackContext(items: INodeExecutionData[], keys: IDataObject = credentials) {
	const putExecutionToWait = jest.fn();
	const ctx = fakeContext({
		items,
		parameters: {},
		credentials: keys,
		members: {
			getExecutionId: () => 'exec-1',
			evaluateExpression: () => 'http://n8n.local/webhook-waiting/exec-1',
			putExecutionToWait,
		},
	});
	return { ctx, putExecutionToWait };
}

const newBatch = (): Batch => ({
	...newTaskRun({ attempts: 1, retryDelayMs: 0, timeoutMs: 1000 }),
	concurrency: 2,
	slots: new SlotPool(2),
	wait: waitSettingsFrom({}),
});

const runOf = (itemIndex: number): ItemRun => ({ itemIndex, tasks: [] });

beforeEach(() => {
	jest.clearAllMocks();
	prepareCreate.mockImplementation(
		async (_ctx, itemIndex, _batch, _callbackUrl, externalTaskId) =>
			({
				expansion,
				images: 1,
				externalTaskId: externalTaskId ?? `own-${itemIndex}`,
				externalIdIsOurs: false,
				body: async () => ({ external_task_id: externalTaskId ?? '' }),
			}) as unknown as PreparedCreate,
	);
	submitOnce.mockImplementation(async (_ctx, prepared, run) => {
		const taskId = `t-${run.itemIndex}`;
		run.tasks.push({ external_task_id: prepared.externalTaskId, task_id: taskId });
		return { task_id: taskId, task_status: 'submitted', created_at: 100 + run.itemIndex };
	});
});

describe('callback mode execute', () => {
	it("submits each item with a resume URL signed for the batch and the item's id in it", async () => {
		const { ctx } = callbackContext([{ json: {} }, { json: {} }]);
		const batch = newBatch();
		const output = await execute.call(ctx, 1, runOf(1), batch);
		// The other item too, so the run's slot checks end.
		await execute.call(ctx, 0, runOf(0), batch);
		expect(output).toEqual([
			{ json: { task_id: 't-1', task_status: 'submitted', created_at: 101, expansion } },
		]);
		const [, itemIndex, , resumeUrl, externalTaskId] = prepareCreate.mock.calls[0];
		expect([itemIndex, externalTaskId]).toEqual([1, ids[1]]);
		const url = new URL(resumeUrl!);
		// The execution's resume URL plus this node's id, so it opens only this node's wait.
		expect(url.origin + url.pathname).toBe('http://n8n.local/webhook-waiting/exec-1/node-1');
		const claimed = claimedBatch(Object.fromEntries(url.searchParams));
		expect(claimed).toMatchObject({ claimedExecutionId: 'exec-1', batchId: 'b1', itemCount: 2 });
		const identity = { executionId: 'exec-1', batchId: 'b1', itemCount: 2 };
		expect(verifyBatch(resumeKey(credentials)!, identity, claimed!.signature)).toBe(true);
	});

	it.each([
		[1, [false, true, true]],
		[2, [false, false, true]],
	])(
		'gives the resume URL to the last wave counted in images: %i image(s) per item on 2 slots',
		async (numberOfImages, withUrl) => {
			const items = [{ json: {} }, { json: {} }, { json: {} }];
			const ctx = fakeContext({
				items,
				parameters: { numberOfImages },
				credentials,
				members: {
					getExecutionId: () => 'exec-1',
					evaluateExpression: () => 'http://n8n.local/webhook-waiting/exec-1',
				},
			});
			// Room for every task, so no item waits for a slot: only the waves are under test. The
			// tasks without the URL are watched until they end: cancelling ends that.
			const cancel = new AbortController();
			const base = newBatch();
			const batch = {
				...base,
				policy: { ...base.policy, signal: cancel.signal },
				slots: new SlotPool(10),
			};
			await Promise.all(
				[0, 1, 2].map(async (index) => await execute.call(ctx, index, runOf(index), batch)),
			);
			const urls = prepareCreate.mock.calls
				.sort((a, b) => a[1] - b[1])
				.map((call) => Boolean(call[3]));
			cancel.abort();
			expect(urls).toEqual(withUrl);
		},
	);

	it("sends again after a 1303 (the account's slots are taken), naming only the accepted task", async () => {
		submitOnce.mockImplementationOnce(async (_ctx, prepared, run) => {
			run.tasks.push({ external_task_id: prepared.externalTaskId });
			throw new KlingFailure('api', 'parallel task over resource pack limit', 1303, 200);
		});
		const { ctx } = callbackContext([{ json: {} }]);
		const run = runOf(0);
		await execute.call(ctx, 0, run, newBatch());
		expect(submitOnce).toHaveBeenCalledTimes(2);
		expect(run.tasks).toEqual([{ external_task_id: ids[0], task_id: 't-0' }]);
	});

	it('refuses before preparing any create when the credential has no key to sign with', async () => {
		const { ctx } = callbackContext([{ json: {} }], { provider: 'kling', authMode: 'apiKey' });
		const failure = execute.call(ctx, 0, runOf(0), newBatch());
		await expect(failure).rejects.toBeInstanceOf(NodeOperationError);
		await expect(failure).rejects.toThrow('has no key to sign the resume URL');
		expect(prepareCreate).not.toHaveBeenCalled();
	});
});

describe('callback mode finish', () => {
	it('marks each waiting item with its pending task or its refusal, then waits', async () => {
		const items: INodeExecutionData[] = [{ json: { index: 0 } }, { json: { index: 1 } }];
		const { ctx, putExecutionToWait } = callbackContext(items);
		const batch = newBatch();
		const submitted = await execute.call(ctx, 0, runOf(0), batch);
		prepareCreate.mockRejectedValueOnce(new Error('refused'));
		await expect(execute.call(ctx, 1, runOf(1), batch)).rejects.toThrow('refused');
		const outcomes: ItemOutcome[] = [
			{ items: submitted, failed: false },
			{ items: [{ json: { error: 'refused', description: 'why' } }], failed: true },
		];
		const [output] = await finish.call(ctx as IExecuteFunctions, batch, outcomes);
		// Every item carries the wait's deadline (for the resume's downloads): when n8n resumes it.
		const waitDeadline = (putExecutionToWait.mock.calls[0][0] as Date).getTime();
		expect(output).toEqual([
			{
				json: {
					index: 0,
					external_task_id: ids[0],
					wait_deadline: waitDeadline,
					wait_status: 'timed_out',
					task_id: 't-0',
					created_at: 100,
					message: 'Kling had not reported task t-0 when the wait ended: fetch it with Get Task',
				},
				pairedItem: { item: 0 },
			},
			{
				json: {
					index: 1,
					external_task_id: ids[1],
					wait_deadline: waitDeadline,
					wait_status: 'not_submitted',
					error: 'refused',
					description: 'why',
				},
				pairedItem: { item: 1 },
			},
		]);
		expect(putExecutionToWait).toHaveBeenCalledWith(expect.any(Date));
	});

	it('does not wait when no item was submitted: the error items come out', async () => {
		const { ctx, putExecutionToWait } = callbackContext([{ json: {} }]);
		const batch = newBatch();
		prepareCreate.mockRejectedValueOnce(new Error('refused'));
		await expect(execute.call(ctx, 0, runOf(0), batch)).rejects.toThrow('refused');
		const failed = [{ json: { error: 'refused' } }];
		expect(await finish.call(ctx, batch, [{ items: failed, failed: true }])).toEqual([failed]);
		expect(putExecutionToWait).not.toHaveBeenCalled();
	});
});
