import type { IExecuteFunctions } from 'n8n-workflow';

import { createBatch } from '../../../../nodes/KlingExpand/actions/batch';
import { ATTEMPTS } from '../../../../nodes/shared/kling';
import { ValidationError } from '../../../../nodes/shared/validationError';
import { fakeContext } from '../../../harness/context';

/** A context whose first item has these options; it records which items' parameters were read. */
function contextWithOptions(options: Record<string, unknown>) {
	const signal = new AbortController().signal;
	const read: number[] = [];
	const ctx = fakeContext<IExecuteFunctions>({
		signal,
		members: {
			getNodeParameter: (name: string, itemIndex: number) => {
				read.push(itemIndex);
				return name === 'options' ? options : undefined;
			},
		},
	});
	return { ctx, signal, read };
}

describe('createBatch', () => {
	it('reads the run-wide options once, from the first item, with their defaults', () => {
		const { ctx, signal, read } = contextWithOptions({ concurrency: 3, pollInterval: 2 });
		const batch = createBatch(ctx);
		expect(read).toEqual([0]);
		expect(batch.concurrency).toBe(3);
		expect(batch.slots.capacity).toBe(3);
		expect(batch.policy).toEqual({
			attempts: ATTEMPTS.run,
			retryDelayMs: 1000,
			timeoutMs: 30_000,
			signal,
		});
		expect(batch.wait).toEqual({ timeoutMs: 600_000, minIntervalMs: 2000, maxIntervalMs: 15_000 });
	});

	it('starts with none of the run state: no id claimed, no form learnt, no watcher, no callback run', () => {
		const batch = createBatch(contextWithOptions({}).ctx);
		expect(batch.externalIds.size).toBe(0);
		expect(batch.lookups).toEqual({});
		expect([batch.reusable, batch.watcher, batch.callback]).toEqual([
			undefined,
			undefined,
			undefined,
		]);
	});

	it('refuses a run-wide option of the wrong type, naming it, before anything is sent', () => {
		const { ctx } = contextWithOptions({ concurrency: 'many' });
		expect(() => createBatch(ctx)).toThrow(ValidationError);
		expect(() => createBatch(ctx)).toThrow(/Concurrency/);
	});
});
