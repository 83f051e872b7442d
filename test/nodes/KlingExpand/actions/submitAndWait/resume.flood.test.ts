import { QUERY_LAG } from '../../../../../nodes/KlingExpand/actions/submitAndWait/batchCheck';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import { waitingExecution } from '../../../../harness/waiting';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../../../harness/workflows';

/** Tasks run for a minute: every "ended" callback posted meanwhile is forged. */
const simulator = useSimulator({ taskDurationMs: 60_000 });

async function waitingBatch(count: number) {
	const sim = simulator();
	const execution = await waitingExecution(
		expandWorkflow({
			operation: 'submitAndWait',
			waitMode: 'callback',
			imageSource: 'binary',
			...UP_RATIOS,
			downloadImages: false,
			options: { ...FAST_WAIT, timeout: 120 },
		} as never),
		EXPAND_NODE,
		simulatorCredentials(sim.url),
	);
	const input = await Promise.all(
		Array.from({ length: count }, async () => binaryItem(await testImage())),
	);
	await execution.start(input);
	const tasks = [...sim.tasks.values()];
	const url = String(tasks[0].createBody.callback_url);
	/** A forged "succeed" for item `index`'s task, as anyone who saw the URL could post it. */
	const forge = async (index: number) => {
		const { task_id, task_info, created_at } = tasks[index % count];
		const answer = await fetch(url, {
			method: 'POST',
			body: JSON.stringify({ task_id, task_info, created_at, task_status: 'succeed' }),
			headers: { 'content-type': 'application/json' },
		});
		return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
	};
	const reads = () => requestsOf(sim, 'query').length + requestsOf(sim, 'list').length;
	return { sim, execution, forge, reads };
}

/** Runs `task` for 0…count-1, `parallel` at a time. */
async function inParallel<T>(count: number, parallel: number, task: (index: number) => Promise<T>) {
	const results: T[] = [];
	let next = 0;
	await Promise.all(
		Array.from({ length: parallel }, async () => {
			while (next < count) {
				const index = next++;
				results[index] = await task(index);
			}
		}),
	);
	return results;
}

describe('Submit and Wait, callback mode, flooded with forged "ended" callbacks', () => {
	it('2,000 forged terminal callbacks to a valid resume URL cost at most 2,000 provider requests, and the batch keeps waiting', async () => {
		// One task: a forged "ended" for it looks exactly like a genuine one that Kling's query lags.
		const { execution, forge, reads } = await waitingBatch(1);
		const before = reads();
		const answers = await inParallel(2000, 20, forge);
		expect(answers.every((answer) => answer.status === 200 && answer.body.resumed === false)).toBe(
			true,
		);
		expect(reads() - before).toBeLessThanOrEqual(2000);
		expect(execution.state).toBe('waiting');
		await execution.close();
	});

	it('one after another, each forged callback costs at most one request while other tasks of the batch run', async () => {
		const { execution, forge, reads } = await waitingBatch(3);
		const before = reads();
		for (let sent = 1; sent <= 50; sent++) {
			await forge(0);
			expect(reads() - before).toBeLessThanOrEqual(sent);
		}
		await execution.close();
	});

	it(`one after another for a batch's only running task, the first waits out a possible query lag (${QUERY_LAG.rechecks} reads at most), the others cost one request each`, async () => {
		const { execution, forge, reads } = await waitingBatch(1);
		const before = reads();
		for (let sent = 1; sent <= 20; sent++) {
			await forge(0);
			expect(reads() - before).toBeLessThanOrEqual(sent + QUERY_LAG.rechecks);
		}
		await execution.close();
	});

	it('answers callbacks that arrive while the batch is being checked at once, sending Kling nothing: they share that check', async () => {
		const { sim, execution, forge, reads } = await waitingBatch(3);
		// The next read of the batch takes 4 s to answer.
		sim.injectFault({ on: 'any', kind: 'slow', delayMs: 4000 });
		const before = reads();
		let firstAnswered = false;
		const first = forge(0).then((answer) => {
			firstAnswered = true;
			return answer;
		});
		while (reads() === before) await new Promise((resolve) => setTimeout(resolve, 5));
		const joined = await inParallel(100, 10, forge);
		expect(firstAnswered).toBe(false);
		expect(joined.every((answer) => answer.status === 200 && answer.body.resumed === false)).toBe(
			true,
		);
		expect(reads() - before).toBe(1);
		expect((await first).body.resumed).toBe(false);
		await execution.close();
	});
});
