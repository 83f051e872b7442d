import { newTaskRun } from '../../../../nodes/KlingExpand/tasks/run';

describe('newTaskRun', () => {
	it('starts a run with its policy and nothing else: no id claimed, no form learnt, no scan', () => {
		const policy = { attempts: 1, retryDelayMs: 0, timeoutMs: 1000 };
		const run = newTaskRun(policy);
		expect(run).toEqual({ policy, externalIds: new Map(), lookups: {} });
		expect(run.reusable).toBeUndefined();
	});

	it('gives each run its own state', () => {
		const policy = { attempts: 1, retryDelayMs: 0, timeoutMs: 1000 };
		const [first, second] = [newTaskRun(policy), newTaskRun(policy)];
		first.externalIds.set('order-1', 0);
		first.lookups.form = 'collection';
		expect(second.externalIds.size).toBe(0);
		expect(second.lookups).toEqual({});
	});
});
