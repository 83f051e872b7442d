import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import type { Batch, ItemRun } from '../../../../nodes/KlingExpand/actions/batch';
import * as getTask from '../../../../nodes/KlingExpand/actions/getTask.operation';
import { router } from '../../../../nodes/KlingExpand/actions/router';
import * as submit from '../../../../nodes/KlingExpand/actions/submit.operation';
import * as submitAndWait from '../../../../nodes/KlingExpand/actions/submitAndWait';
import { WaitTimeoutError } from '../../../../nodes/KlingExpand/helpers/polling';
import { WaitCancelledError } from '../../../../nodes/shared/sleep';
import { TaskFailedError } from '../../../../nodes/shared/task';
import { KlingFailure } from '../../../../nodes/shared/transport/failure';
import { ValidationError } from '../../../../nodes/shared/validationError';
import { fakeContext, FAKE_NODE } from '../../../harness/context';

// The operations are replaced: these tests are about what the router makes of their results.
jest.mock('../../../../nodes/KlingExpand/actions/submit.operation', () => ({
	execute: jest.fn(),
}));
jest.mock('../../../../nodes/KlingExpand/actions/getTask.operation', () => ({
	execute: jest.fn(),
}));
jest.mock('../../../../nodes/KlingExpand/actions/submitAndWait', () => ({
	execute: jest.fn(),
	callbackMode: { execute: jest.fn(), finish: jest.fn() },
}));

type Execute = (
	this: IExecuteFunctions,
	itemIndex: number,
	run: ItemRun,
	batch: Batch,
) => Promise<INodeExecutionData[]>;

const submitExecute = submit.execute as unknown as jest.MockedFunction<Execute>;
const getTaskExecute = getTask.execute as unknown as jest.MockedFunction<Execute>;
const pollExecute = submitAndWait.execute as unknown as jest.MockedFunction<Execute>;
const callbackExecute = submitAndWait.callbackMode
	.execute as unknown as jest.MockedFunction<Execute>;
const callbackFinish = submitAndWait.callbackMode.finish as unknown as jest.Mock;

const node = FAKE_NODE;

/** Only what the router and createBatch ask of n8n. */
function routerContext(settings: {
	operation: string;
	items?: number;
	continueOnFail?: boolean;
	options?: IDataObject;
	waitMode?: string;
	tool?: boolean;
}): IExecuteFunctions {
	return fakeContext({
		parameters: {
			operation: settings.operation,
			waitMode: settings.waitMode,
			options: settings.options,
		},
		items: settings.items ?? 1,
		continueOnFail: settings.continueOnFail === true,
		tool: settings.tool === true,
		signal: undefined,
	});
}

type Task = ItemRun['tasks'][number];

/** Item `failing` records `tasks` on its run, then throws `error`; the others succeed with a task each. */
function submitFails(error: unknown, tasks: Task[] = [], failing = 0) {
	submitExecute.mockImplementation(async (itemIndex, run) => {
		if (itemIndex !== failing) {
			run.tasks.push({ external_task_id: `e-${itemIndex}`, task_id: `t-${itemIndex}` });
			return [{ json: { task_id: `t-${itemIndex}` } }];
		}
		run.tasks.push(...tasks);
		throw error;
	});
}

/** What router throws for a context, as the error itself. */
async function thrownBy(ctx: IExecuteFunctions): Promise<NodeApiError | NodeOperationError> {
	try {
		await router.call(ctx);
	} catch (error) {
		return error as NodeApiError | NodeOperationError;
	}
	throw new Error('router did not throw');
}

const accepted: Task = { external_task_id: 'e-1', task_id: 't-1' };
const refused: Task = { external_task_id: 'e-refused' };

beforeEach(() => jest.resetAllMocks());

describe('router', () => {
	it('runs the operation once per item and pairs each output item with its input item', async () => {
		submitExecute.mockImplementation(async (itemIndex) => [
			{ json: { item: itemIndex }, pairedItem: { item: 99 } },
			{ json: { item: itemIndex, second: true } },
		]);
		const output = await router.call(routerContext({ operation: 'submit', items: 2 }));
		expect(output).toEqual([
			[
				{ json: { item: 0 }, pairedItem: { item: 0 } },
				{ json: { item: 0, second: true }, pairedItem: { item: 0 } },
				{ json: { item: 1 }, pairedItem: { item: 1 } },
				{ json: { item: 1, second: true }, pairedItem: { item: 1 } },
			],
		]);
		expect(submitExecute.mock.calls.map(([itemIndex]) => itemIndex)).toEqual([0, 1]);
	});

	it('refuses an operation it does not know, naming it', async () => {
		await expect(router.call(routerContext({ operation: 'deleteTask' }))).rejects.toThrow(
			'The operation "deleteTask" is not supported',
		);
	});

	it('submits up to the concurrency option side by side, and reads one item at a time', async () => {
		const peakOf = async (operation: string, execute: jest.MockedFunction<Execute>) => {
			let active = 0;
			let peak = 0;
			execute.mockImplementation(async () => {
				peak = Math.max(peak, ++active);
				await new Promise((resolve) => setImmediate(resolve));
				active--;
				return [{ json: {} }];
			});
			await router.call(routerContext({ operation, items: 6, options: { concurrency: 3 } }));
			return peak;
		};
		expect(await peakOf('submit', submitExecute)).toBe(3);
		expect(await peakOf('getTask', getTaskExecute)).toBe(1);
	});

	it('gives every item of the run the same batch, with the concurrency option’s slots', async () => {
		const batches: Batch[] = [];
		submitExecute.mockImplementation(async (_itemIndex, _run, batch) => {
			batches.push(batch);
			return [];
		});
		await router.call(
			routerContext({ operation: 'submit', items: 3, options: { concurrency: 2 } }),
		);
		expect(new Set(batches).size).toBe(1);
		expect(batches[0].slots.capacity).toBe(2);
	});

	it('hands callback mode’s outcomes to its finish, which makes the output', async () => {
		callbackExecute.mockImplementation(async (itemIndex) => [{ json: { item: itemIndex } }]);
		const finished = [[{ json: { waiting: true } }]];
		callbackFinish.mockResolvedValue(finished);
		const output = await router.call(
			routerContext({ operation: 'submitAndWait', waitMode: 'callback', items: 2 }),
		);
		expect(output).toBe(finished);
		expect(pollExecute).not.toHaveBeenCalled();
		const [, outcomes] = callbackFinish.mock.calls[0];
		expect(outcomes).toEqual([
			{ items: [{ json: { item: 0 }, pairedItem: { item: 0 } }], failed: false },
			{ items: [{ json: { item: 1 }, pairedItem: { item: 1 } }], failed: false },
		]);
	});

	it('polls in poll mode without a tool note', async () => {
		pollExecute.mockImplementation(async () => [{ json: { done: true } }]);
		const [output] = await router.call(routerContext({ operation: 'submitAndWait' }));
		expect(output).toEqual([{ json: { done: true }, pairedItem: { item: 0 } }]);
	});
});

describe('router error mapping', () => {
	it('turns a ValidationError into a NodeOperationError saying nothing was sent', async () => {
		const refusal = new ValidationError(
			'prompt',
			'x'.repeat(3),
			'it must be at least 4 characters',
		);
		submitFails(refusal);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe('Prompt is "xxx"; it must be at least 4 characters');
		expect(error.description).toBe('Nothing was sent to Kling: fix the field named above.');
		expect(error.context.itemIndex).toBe(0);
	});

	it("turns a KlingFailure into a NodeApiError with the code's meaning, its remedy and the accepted tasks", async () => {
		submitFails(new KlingFailure('api', 'too many', 1303, 429, 'req-9'), [accepted]);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toBe(
			'Kling error 1303: Concurrency over the resource-pack limit (too many)',
		);
		expect(error.description).toBe(
			'Lower the concurrency option to the number of slots in the resource pack. ' +
				'Request ID: req-9. ' +
				'Tasks already submitted: t-1 (external_task_id e-1) (use Get Task to fetch them).',
		);
		expect((error as NodeApiError).httpCode).toBe('429');
		expect(error.context.itemIndex).toBe(0);
	});

	it('adds no submitted sentence to a KlingFailure when the provider accepted nothing', async () => {
		submitFails(new KlingFailure('api', 'bad', 1201, 400), [refused]);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error.description).toBe('Check the parameter named in the message.');
	});

	it("turns a TaskFailedError into a NodeOperationError naming the task and Kling's reason", async () => {
		submitFails(
			new TaskFailedError({ task_id: 't-9', task_status: 'failed', task_status_msg: 'too small' }),
		);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe('Kling task t-9 failed: too small');
		expect(error.description).toBe("task_id t-9; Kling's reason: too small.");
	});

	it('says "none given" when a failed task has no reason', async () => {
		submitFails(new TaskFailedError({ task_id: 't-9', task_status: 'failed' }));
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error.description).toBe("task_id t-9; Kling's reason: none given.");
	});

	it('turns a WaitTimeoutError into a NodeOperationError naming the accepted tasks', async () => {
		submitFails(new WaitTimeoutError('t-1', 30_000), [accepted]);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe('Task t-1 did not finish within 30 s');
		expect(error.description).toBe(
			'Tasks already submitted: t-1 (external_task_id e-1) (use Get Task to fetch them).',
		);
	});

	it('turns a cancelled wait into a NodeOperationError naming the accepted tasks', async () => {
		submitFails(new WaitCancelledError(), [accepted]);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe('The execution was cancelled while waiting');
		expect(error.description).toMatch(/^Tasks already submitted: t-1 /);
	});

	it('names only the accepted tasks, not a create the provider refused', async () => {
		submitFails(new WaitTimeoutError('t-1', 1000), [refused, accepted]);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error.description).toBe(
			'Tasks already submitted: t-1 (external_task_id e-1) (use Get Task to fetch them).',
		);
	});

	it('says nothing was submitted when no task was accepted', async () => {
		submitFails(new WaitTimeoutError('t-1', 1000), [refused]);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error.description).toBe('Nothing was submitted to Kling.');
	});

	it('passes an n8n error through as it is, adding the item index only when it has none', async () => {
		const own = new NodeOperationError(node, 'Already an n8n error', { description: 'as thrown' });
		submitFails(own, [], 1);
		const error = await thrownBy(routerContext({ operation: 'submit', items: 2 }));
		expect(error).toBe(own);
		expect(error.context.itemIndex).toBe(1);

		const placed = new NodeApiError(node, { message: 'api' }, { itemIndex: 7 });
		submitFails(placed);
		const same = await thrownBy(routerContext({ operation: 'submit' }));
		expect(same).toBe(placed);
		expect(same.context.itemIndex).toBe(7);
	});

	it('wraps any other error in a NodeOperationError with its message and the accepted tasks', async () => {
		submitFails(new Error('something odd'), [accepted]);
		const error = await thrownBy(routerContext({ operation: 'submit' }));
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe('something odd');
		expect(error.description).toBe(
			'Tasks already submitted: t-1 (external_task_id e-1) (use Get Task to fetch them).',
		);
		expect(error.context.itemIndex).toBe(0);
	});

	it("names the other items' accepted tasks, since the run's output is lost with the error", async () => {
		submitExecute.mockImplementation(async (itemIndex, run) => {
			if (itemIndex === 1) throw new ValidationError('prompt', '', 'it must not be empty');
			if (itemIndex === 3) {
				run.tasks.push({ external_task_id: 'e-3' });
				throw new KlingFailure('api', 'bad', 1201, 400);
			}
			run.tasks.push({ external_task_id: `e-${itemIndex}`, task_id: `t-${itemIndex}` });
			return [{ json: {} }];
		});
		const error = await thrownBy(routerContext({ operation: 'submit', items: 4 }));
		// The first failing item is the one thrown; item 3's refused create made no task.
		expect(error.context.itemIndex).toBe(1);
		expect(error.description).toBe(
			'Nothing was sent to Kling: fix the field named above. ' +
				'Other tasks submitted in this run: t-0 (external_task_id e-0), ' +
				't-2 (external_task_id e-2) (use Get Task to fetch them).',
		);
	});

	it('settles every item before throwing, so no item is left unsubmitted halfway', async () => {
		submitFails(new Error('first fails'), [], 0);
		await thrownBy(routerContext({ operation: 'submit', items: 3, options: { concurrency: 1 } }));
		expect(submitExecute).toHaveBeenCalledTimes(3);
	});
});

describe('router under Continue On Fail', () => {
	it('outputs an error item in the failed item’s place, with its message, remedy and task ids', async () => {
		submitFails(new WaitTimeoutError('t-1', 2000), [accepted], 1);
		const [output] = await router.call(
			routerContext({ operation: 'submit', items: 3, continueOnFail: true }),
		);
		expect(output).toEqual([
			{ json: { task_id: 't-0' }, pairedItem: { item: 0 } },
			{
				json: {
					error: 'Task t-1 did not finish within 2 s',
					description:
						'Tasks already submitted: t-1 (external_task_id e-1) (use Get Task to fetch them).',
					task_id: 't-1',
					external_task_id: 'e-1',
				},
				pairedItem: { item: 1 },
			},
			{ json: { task_id: 't-2' }, pairedItem: { item: 2 } },
		]);
	});

	it('puts a failed task’s id, status and reason on its error item', async () => {
		submitFails(
			new TaskFailedError({ task_id: 't-5', task_status: 'failed', task_status_msg: 'blurred' }),
			[{ external_task_id: 'e-5', task_id: 't-5' }],
		);
		const [[item]] = await router.call(
			routerContext({ operation: 'submit', continueOnFail: true }),
		);
		expect(item).toEqual({
			json: {
				error: 'Kling task t-5 failed: blurred',
				description: "task_id t-5; Kling's reason: blurred.",
				task_id: 't-5',
				task_status: 'failed',
				task_status_msg: 'blurred',
				external_task_id: 'e-5',
			},
			pairedItem: { item: 0 },
		});
	});

	it('gives a refused create its external_task_id but no task_id', async () => {
		submitFails(new KlingFailure('api', 'bad', 1201, 400), [refused]);
		const [[item]] = await router.call(
			routerContext({ operation: 'submit', continueOnFail: true }),
		);
		expect(item.json).toEqual({
			error: 'Kling error 1201: Invalid parameters (bad)',
			description: 'Check the parameter named in the message.',
			external_task_id: 'e-refused',
		});
	});

	it('gives an item that submitted nothing only the error and its description', async () => {
		submitFails(new ValidationError('prompt', '', 'it must not be empty'));
		const [[item]] = await router.call(
			routerContext({ operation: 'submit', continueOnFail: true }),
		);
		expect(item).toEqual({
			json: {
				error: 'Prompt is ""; it must not be empty',
				description: 'Nothing was sent to Kling: fix the field named above.',
			},
			pairedItem: { item: 0 },
		});
	});

	it("does not add the other items' tasks to an error item: their own items name them", async () => {
		submitFails(new Error('odd'), [], 1);
		const [output] = await router.call(
			routerContext({ operation: 'submit', items: 2, continueOnFail: true }),
		);
		expect(output[1].json.description).toBe('Nothing was submitted to Kling.');
	});

	it('marks the failed outcomes for callback mode’s finish', async () => {
		callbackExecute.mockImplementation(async (itemIndex) => {
			if (itemIndex === 0) throw new Error('odd');
			return [{ json: {} }];
		});
		callbackFinish.mockResolvedValue([[]]);
		await router.call(
			routerContext({
				operation: 'submitAndWait',
				waitMode: 'callback',
				items: 2,
				continueOnFail: true,
			}),
		);
		const [, outcomes] = callbackFinish.mock.calls[0];
		expect(outcomes.map((outcome: { failed: boolean }) => outcome.failed)).toEqual([true, false]);
	});
});
