import {
	DeliveryMemory,
	deliveryKey,
	judgeDelivery,
	mergeKeys,
} from '../../../../nodes/KlingExpandTrigger/helpers/deliveries';

const task = (task_id: string, task_status: string) => ({ task_id, task_status });

describe('deliveryKey', () => {
	it('is the task id and status', () => {
		expect(deliveryKey(task('784512063975329862', 'succeed'))).toBe('784512063975329862:succeed');
	});
});

describe('judgeDelivery', () => {
	const seen = new Set(['a:submitted', 'a:succeed', 'b:processing']);
	it.each([
		['a', 'succeed', 'duplicate'],
		['a', 'processing', 'stale'],
		['a', 'failed', 'new'],
		['b', 'processing', 'duplicate'],
		['b', 'succeed', 'new'],
		['c', 'submitted', 'new'],
	])('%s:%s is %s', (id, status, verdict) => {
		expect(judgeDelivery(seen, task(id, status))).toBe(verdict);
	});
});

describe('mergeKeys', () => {
	it('keeps order, drops repeats and keeps the newest `limit`', () => {
		expect(mergeKeys(['a', 'b'], ['b', 'c'])).toEqual(['a', 'b', 'c']);
		expect(mergeKeys(['a', 'b', 'c'], ['d', 'e'], 3)).toEqual(['c', 'd', 'e']);
	});
});

describe('DeliveryMemory', () => {
	it('claims a key once per scope, and writes back everything it knows whatever copy a delivery holds', () => {
		const memory = new DeliveryMemory();
		// Two deliveries read the same (empty) saved copy, as overlapping deliveries in n8n do.
		const first = memory.claim('wf/node', [], task('t1', 'succeed'));
		const second = memory.claim('wf/node', [], task('t2', 'succeed'));
		expect([first.verdict, second.verdict]).toEqual(['new', 'new']);
		expect(second.remembered).toEqual(['t1:succeed', 't2:succeed']);
		expect(memory.claim('wf/node', [], task('t1', 'succeed')).verdict).toBe('duplicate');
		expect(memory.claim('other/node', [], task('t1', 'succeed')).verdict).toBe('new');
	});

	it('merges keys saved by another process into its own', () => {
		const memory = new DeliveryMemory();
		memory.claim('wf/node', [], task('mine', 'failed'));
		expect(memory.claim('wf/node', ['theirs:succeed'], task('theirs', 'succeed')).verdict).toBe(
			'duplicate',
		);
		expect(memory.remembered('wf/node', [])).toEqual(['theirs:succeed', 'mine:failed']);
	});

	it('ignores saved entries that are not strings', () => {
		expect(
			new DeliveryMemory().remembered('s', [1, null, 'k:succeed'] as unknown as string[]),
		).toEqual(['k:succeed']);
	});

	it('stays bounded', () => {
		const memory = new DeliveryMemory(3);
		for (const id of ['a', 'b', 'c', 'd']) memory.claim('s', [], task(id, 'succeed'));
		expect(memory.remembered('s', [])).toEqual(['b:succeed', 'c:succeed', 'd:succeed']);
	});
});
