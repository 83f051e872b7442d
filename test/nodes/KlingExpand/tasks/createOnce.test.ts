import type { IExecuteFunctions } from 'n8n-workflow';

import {
	batchExternalIds,
	callbackBatchOf,
	claimExternalId,
	generatedExternalId,
	retireGeneratedId,
} from '../../../../nodes/KlingExpand/tasks/createOnce';
import { newTaskRun } from '../../../../nodes/KlingExpand/tasks/run';
import { ValidationError } from '../../../../nodes/shared/validationError';

/**
 * The node context n8n keeps for one execution's node (one object across Retry On Fail tries), the
 * execution id, and the run index each item's data proxy reports.
 */
function nodeContext(executionId: string, runIndex = 0, nodeStore: object = {}) {
	const ctx = {
		runIndex,
		getContext: (type: string) => {
			if (type !== 'node') throw new Error(`unexpected context type ${type}`);
			return nodeStore;
		},
		getExecutionId: () => executionId,
		getWorkflowDataProxy: (_itemIndex: number) => ({ $runIndex: ctx.runIndex }),
	};
	return ctx as typeof ctx & IExecuteFunctions;
}

const ID_FORMAT = /^n8n-(\w+)-([0-9a-f]{8})-(\d+)-(\d+)(?:-(\d+))?$/;

describe('generatedExternalId', () => {
	it('reads n8n-<execution>-<salt>-<run>-<item>, with an 8-hex-digit salt', () => {
		const ctx = nodeContext('42', 3);
		const id = generatedExternalId(ctx, 5);
		const [, execution, salt, run, item, attempt] = ID_FORMAT.exec(id) ?? [];
		expect({ execution, run, item, attempt }).toEqual({
			execution: '42',
			run: '3',
			item: '5',
			attempt: undefined,
		});
		expect(id).toBe(`n8n-42-${salt}-3-5`);
	});

	it('is the same on every call with the same node context, as on a Retry On Fail try', () => {
		const store = {};
		const first = generatedExternalId(nodeContext('42', 0, store), 1);
		expect(generatedExternalId(nodeContext('42', 0, store), 1)).toBe(first);
	});

	it('differs between two executions’ node contexts, even with the same execution id', () => {
		expect(generatedExternalId(nodeContext('1'), 0)).not.toBe(
			generatedExternalId(nodeContext('1'), 0),
		);
	});

	it('differs between items and between runs of the node', () => {
		const ctx = nodeContext('42', 0);
		const item0 = generatedExternalId(ctx, 0);
		expect(generatedExternalId(ctx, 1)).not.toBe(item0);
		ctx.runIndex = 1;
		expect(generatedExternalId(ctx, 0)).toBe(item0.replace(/-0-0$/, '-1-0'));
	});

	it("keeps the execution id its node context was made in, as n8n's Retry copies that context into a new execution", () => {
		const store = {};
		const first = generatedExternalId(nodeContext('42', 0, store), 1);
		expect(generatedExternalId(nodeContext('57', 0, store), 1)).toBe(first);
		expect(first).toMatch(/^n8n-42-/);
	});

	it('says run when there is no execution id', () => {
		expect(generatedExternalId(nodeContext(''), 0)).toMatch(/^n8n-run-[0-9a-f]{8}-0-0$/);
	});
});

describe('retireGeneratedId', () => {
	it('adds -<attempt> to the item’s id, counting from 2, for later calls on the same context', () => {
		const store = {};
		const ctx = nodeContext('42', 0, store);
		const first = generatedExternalId(ctx, 2);
		retireGeneratedId(ctx, 2);
		expect(generatedExternalId(ctx, 2)).toBe(`${first}-2`);
		retireGeneratedId(nodeContext('42', 0, store), 2);
		expect(generatedExternalId(ctx, 2)).toBe(`${first}-3`);
	});

	it('leaves the other items, and the same item in another run, on their first id', () => {
		const ctx = nodeContext('42', 0);
		const item1 = generatedExternalId(ctx, 1);
		retireGeneratedId(ctx, 0);
		expect(generatedExternalId(ctx, 1)).toBe(item1);
		ctx.runIndex = 1;
		expect(generatedExternalId(ctx, 0)).toMatch(/-1-0$/);
	});
});

describe('callbackBatchOf and batchExternalIds', () => {
	it('give the same ids as generatedExternalId for every item’s first attempt', () => {
		const ctx = nodeContext('77', 2);
		const { idsExecutionId, batchId } = callbackBatchOf(ctx);
		expect(idsExecutionId).toBe('77');
		expect(batchId).toMatch(/^[0-9a-f]{8}-2$/);
		expect(batchExternalIds(idsExecutionId, batchId, 3)).toEqual([
			generatedExternalId(ctx, 0),
			generatedExternalId(ctx, 1),
			generatedExternalId(ctx, 2),
		]);
	});

	it("name the execution the ids were first made in, as n8n's Retry copies the node context into a new execution", () => {
		const store = {};
		const first = callbackBatchOf(nodeContext('77', 0, store));
		expect(callbackBatchOf(nodeContext('78', 0, store))).toEqual(first);
		expect(first.idsExecutionId).toBe('77');
	});

	it('never add an attempt: callback mode does not retire ids', () => {
		const ctx = nodeContext('77', 0);
		const { batchId } = callbackBatchOf(ctx);
		retireGeneratedId(ctx, 0);
		expect(batchExternalIds('77', batchId, 1)).toEqual([`n8n-77-${batchId}-0`]);
		expect(generatedExternalId(ctx, 0)).toBe(`n8n-77-${batchId}-0-2`);
	});

	it('list nothing for an empty batch', () => {
		expect(batchExternalIds('1', 'ab-0', 0)).toEqual([]);
	});
});

describe('claimExternalId', () => {
	const batchOf = () => newTaskRun({ attempts: 1, retryDelayMs: 0, timeoutMs: 1000 });

	it('lets each item claim its own id, and the same item claim it again', () => {
		const batch = batchOf();
		claimExternalId(batch, 'order-1', 0);
		claimExternalId(batch, 'order-2', 1);
		expect(() => claimExternalId(batch, 'order-1', 0)).not.toThrow();
		expect([...batch.externalIds]).toEqual([
			['order-1', 0],
			['order-2', 1],
		]);
	});

	it('refuses a second item with the same id, naming the field, the value and the other item', () => {
		const batch = batchOf();
		claimExternalId(batch, 'order-1', 0);
		let refusal: unknown;
		try {
			claimExternalId(batch, 'order-1', 3);
		} catch (error) {
			refusal = error;
		}
		expect(refusal).toBeInstanceOf(ValidationError);
		expect(refusal).toMatchObject({ field: 'externalTaskId', value: 'order-1' });
		expect((refusal as Error).message).toBe(
			'External Task ID is "order-1"; item 0 of this run already uses it, and each task needs its own',
		);
	});

	it('keeps the first holder after a refusal, so a third item is told the same', () => {
		const batch = batchOf();
		claimExternalId(batch, 'order-1', 1);
		expect(() => claimExternalId(batch, 'order-1', 2)).toThrow(/item 1 of this run/);
		expect(() => claimExternalId(batch, 'order-1', 4)).toThrow(/item 1 of this run/);
		expect(batch.externalIds.get('order-1')).toBe(1);
	});
});
