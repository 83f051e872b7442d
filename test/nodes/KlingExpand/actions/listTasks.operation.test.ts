import { runWorkflow } from '../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../../harness/workflows';

const simulator = useSimulator();

describe('listTasks', () => {
	async function seed(count: number) {
		const sim = simulator();
		const input = await Promise.all(
			Array.from({ length: count }, async () => binaryItem(await testImage())),
		);
		await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'binary',
				...UP_RATIOS,
				options: { ...FAST_WAIT, concurrency: 10 },
			} as never),
			{ startNode: EXPAND_NODE, input, credentials: simulatorCredentials(sim.url) },
		);
		return sim;
	}

	it('returns up to the limit, newest first, one item per task', async () => {
		const sim = await seed(7);
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'listTasks',
				returnAll: false,
				limit: 5,
				options: { pageSize: 2 },
			} as never),
			{ startNode: EXPAND_NODE, input: [{ json: {} }], credentials: simulatorCredentials(sim.url) },
		);
		const ids = result.output(EXPAND_NODE).map((item) => item.json.task_id);
		expect(ids).toHaveLength(5);
		expect(new Set(ids).size).toBe(5);
		expect(requestsOf(sim, 'list').map((request) => request.path)).toEqual(
			[1, 2, 3].map((page) => `/v1/images/editing/expand?pageNum=${page}&pageSize=2`),
		);
	});

	it('returns every task with Return All, page by page', async () => {
		const sim = await seed(7);
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'listTasks',
				returnAll: true,
				options: { pageSize: 3 },
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [{ json: {} }],
				credentials: simulatorCredentials(sim.url, 'cometapi'),
			},
		);
		expect(
			result
				.output(EXPAND_NODE)
				.map((item) => item.json.task_id)
				.sort(),
		).toEqual([...sim.tasks.keys()].sort());
		expect(requestsOf(sim, 'list')).toHaveLength(3);
	});
});
