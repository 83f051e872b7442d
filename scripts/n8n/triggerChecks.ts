import { SIMULATOR_DEFAULT_KEYS, signStandardWebhook } from '../../test/simulator';
import { startServer, type Environment } from './environment';
import type { WorkflowFile, WorkflowNode } from './n8n';
import type { ExecutionDetail } from './rest';
import { seconds, waitFor } from './processes';
import { CREDENTIAL, TRIGGER_TYPE } from './workflows';
import type { Check } from './checks';

const WORKFLOW_ID = 'testTriggerDedupe';
const WEBHOOK_ID = 'kling-trigger-remove-duplicates';
const AFTER = 'After Remove Duplicates';
/** Distinct tasks, each delivered with its terminal status; every delivery is sent twice at once. */
const TASKS = 6;

/**
 * Kling Expand Trigger (version 2, signature) → Remove Duplicates ("Remove Items Processed in Previous
 * Executions", keyed on delivery_key) → No Op: the exactly-once pattern the README shows.
 * `staticData: null` on import clears what the trigger saved, as a webhook process that never saw the
 * deliveries would start.
 */
function dedupeWorkflow(): WorkflowFile & { staticData: null } {
	const nodes: WorkflowNode[] = [
		{
			id: `${WORKFLOW_ID}-0`,
			name: 'Kling Expand Trigger',
			type: TRIGGER_TYPE,
			typeVersion: 2,
			position: [0, 0],
			webhookId: WEBHOOK_ID,
			parameters: { statuses: ['succeed', 'failed'], verification: 'signature' },
			credentials: { klingApi: { ...CREDENTIAL } },
		},
		{
			id: `${WORKFLOW_ID}-1`,
			name: 'Remove Duplicates',
			type: 'n8n-nodes-base.removeDuplicates',
			typeVersion: 2,
			position: [220, 0],
			parameters: {
				operation: 'removeItemsSeenInPreviousExecutions',
				dedupeValue: '={{ $json.delivery_key }}',
				options: {},
			},
		},
		{
			id: `${WORKFLOW_ID}-2`,
			name: AFTER,
			type: 'n8n-nodes-base.noOp',
			typeVersion: 1,
			position: [440, 0],
			parameters: {},
		},
	];
	const connections = {
		'Kling Expand Trigger': { main: [[{ node: 'Remove Duplicates', type: 'main', index: 0 }]] },
		'Remove Duplicates': { main: [[{ node: AFTER, type: 'main', index: 0 }]] },
	};
	return {
		id: WORKFLOW_ID,
		name: 'Kling Expand Trigger → Remove Duplicates (delivery_key)',
		active: false,
		settings: { executionOrder: 'v1' },
		connections,
		nodes,
		staticData: null,
	};
}

/**
 * Remove Duplicates reads its history, then writes it, without a lock: two executions of the workflow at the
 * same moment can miss each other's keys, and the very first two fail one of them with "UNIQUE constraint
 * failed: processed_data" (measured here without this setting). The README asks for one production execution
 * at a time in regular mode, as here; webhook calls are still received in parallel.
 */
const ONE_EXECUTION_AT_A_TIME = { N8N_CONCURRENCY_PRODUCTION_LIMIT: '1' };

interface Round {
	started: number;
	duplicate: number;
	other: string[];
}

/** Posts every task's terminal callback twice at once, signed the way Kling signs (the same webhook-id both times). */
async function deliverTwiceInParallel(
	url: string,
	taskIds: string[],
	label: string,
): Promise<Round> {
	const timestamp = String(Math.floor(Date.now() / 1000));
	const requests = taskIds.flatMap((taskId, index) => {
		const status = index % 2 === 0 ? 'succeed' : 'failed';
		const body = JSON.stringify({
			task_id: taskId,
			task_status: status,
			task_status_msg: status === 'failed' ? 'simulated failure' : '',
			task_result:
				status === 'succeed'
					? { images: [{ index: 0, url: `https://p1-kling.klingai.com/${taskId}.png` }] }
					: undefined,
		});
		const id = `msg_${taskId}_${label}`;
		const headers = {
			'content-type': 'application/json',
			'webhook-id': id,
			'webhook-timestamp': timestamp,
			'webhook-signature': signStandardWebhook(
				SIMULATOR_DEFAULT_KEYS.webhookSecret,
				id,
				timestamp,
				body,
			),
		};
		return [0, 1].map(async () => {
			const response = await fetch(url, { method: 'POST', headers, body });
			return { status: response.status, text: await response.text() };
		});
	});
	const answers = await Promise.all(requests);
	const round: Round = { started: 0, duplicate: 0, other: [] };
	for (const answer of answers) {
		// n8n 2.41 answers a started run with its default response data, the text "firstEntryJson".
		if (answer.status === 200 && answer.text.includes('"reason":"duplicate"')) round.duplicate++;
		else if (answer.status === 200 && !answer.text.includes('"started":false')) round.started++;
		else round.other.push(`${answer.status} ${answer.text}`);
	}
	return round;
}

/** Waits until the workflow has `count` finished executions (and no more arrive for a moment), and reads them. */
async function finishedExecutions(
	environment: Environment,
	count: number,
): Promise<ExecutionDetail[]> {
	const rest = environment.server!.rest;
	const list = await waitFor(
		`${count} finished executions of ${WORKFLOW_ID}`,
		async () => {
			const runs = await rest.executions(WORKFLOW_ID);
			const finished = runs.filter((run) => run.status !== 'running' && run.status !== 'new');
			return finished.length >= count && finished.length === runs.length ? runs : undefined;
		},
		60_000,
		500,
	);
	// Time for an execution that should not exist to show up.
	await new Promise((done) => setTimeout(done, 1500));
	const settled = await rest.executions(WORKFLOW_ID);
	if (settled.length !== list.length)
		throw new Error(`${settled.length} executions of ${WORKFLOW_ID}; expected ${count}`);
	return await Promise.all(settled.map(async (run) => await rest.execution(run.id)));
}

const itemsOf = (execution: ExecutionDetail, node: string) =>
	execution.data.resultData.runData[node]?.[0]?.data?.main?.[0] ?? [];

async function restart(environment: Environment, reimport: boolean): Promise<void> {
	await environment.server?.stop();
	if (reimport) {
		await environment.n8n.importWorkflows([dedupeWorkflow()]);
		await environment.n8n.publish(WORKFLOW_ID);
	}
	const server = await startServer(environment, ONE_EXECUTION_AT_A_TIME);
	// n8n answers its readiness check before it has registered the published workflows' webhooks: an unsigned
	// probe gets 404 until the trigger listens, then the trigger's own 401.
	await waitFor(
		'the trigger webhook to be registered',
		async () =>
			(await fetch(server.webhookUrl(WEBHOOK_ID, 'kling-expand'), { method: 'POST', body: '{}' }))
				.status === 401
				? true
				: undefined,
		60_000,
		500,
	);
}

export const triggerChecks: Check[] = [
	{
		name: 'trigger → Remove Duplicates (delivery_key): each delivery twice in parallel, across restarts of n8n: every terminal status passes once',
		server: true,
		async run(environment) {
			const started = Date.now();
			const taskIds = Array.from({ length: TASKS }, (_, index) => `dedupe-${Date.now()}-${index}`);
			const keys = taskIds.map(
				(taskId, index) => `${taskId}:${index % 2 === 0 ? 'succeed' : 'failed'}`,
			);
			const url = () => environment.server!.webhookUrl(WEBHOOK_ID, 'kling-expand');

			// The workflow is imported and published with n8n stopped, then n8n starts with it listening.
			await restart(environment, true);
			const first = await deliverTwiceInParallel(url(), taskIds, 'first');
			const afterFirst = await finishedExecutions(environment, TASKS);

			// A restart: the trigger has only what n8n saved of its static data.
			await restart(environment, false);
			const afterRestart = await deliverTwiceInParallel(url(), taskIds, 'after-restart');
			await finishedExecutions(environment, TASKS);

			// The trigger's saved keys cleared (re-imported), as in a webhook process that never saw these deliveries:
			// only Remove Duplicates, which keeps its keys in n8n's database, stands between them and the workflow.
			await restart(environment, true);
			const forgotten = await deliverTwiceInParallel(url(), taskIds, 'forgotten');
			const all = await finishedExecutions(environment, TASKS + forgotten.started);

			for (const [name, round, startedExpected] of [
				['first', first, TASKS],
				['after restart', afterRestart, 0],
				['trigger forgot', forgotten, TASKS],
			] as const) {
				if (round.other.length > 0)
					throw new Error(`${name}: unexpected answers ${round.other.join('; ')}`);
				if (round.started !== startedExpected || round.duplicate !== 2 * TASKS - startedExpected) {
					throw new Error(
						`${name}: the trigger started ${round.started} and called ${round.duplicate} duplicates of ${2 * TASKS} deliveries; expected ${startedExpected} started`,
					);
				}
			}
			const failed = all.filter((execution) => execution.status !== 'success');
			if (failed.length > 0)
				throw new Error(
					`executions ${failed.map((execution) => `${execution.id} ${execution.status} ${execution.data.resultData.error?.message ?? ''}`).join(', ')}`,
				);
			const emitted = all.flatMap((execution) =>
				itemsOf(execution, 'Kling Expand Trigger').map((item) => String(item.json.delivery_key)),
			);
			const passed = all.flatMap((execution) =>
				itemsOf(execution, AFTER).map((item) => String(item.json.delivery_key)),
			);
			const counts = keys.map(
				(key) => `${key.split(':')[1]} ×${passed.filter((passedKey) => passedKey === key).length}`,
			);
			if (
				keys.some((key) => passed.filter((passedKey) => passedKey === key).length !== 1) ||
				passed.length !== TASKS
			) {
				throw new Error(
					`after Remove Duplicates: ${counts.join(', ')} (each should pass exactly once); the trigger emitted ${emitted.length}`,
				);
			}
			if (afterFirst.some((execution) => itemsOf(execution, AFTER).length !== 1))
				throw new Error('a first delivery did not reach the node after Remove Duplicates');
			return (
				`${TASKS} tasks, each terminal callback sent twice at once, 3 times (${2 * TASKS * 3} requests): first ${first.started} started / ${first.duplicate} duplicate; ` +
				`after a restart ${afterRestart.started} / ${afterRestart.duplicate} (static data kept every key); with the trigger's keys cleared ${forgotten.started} / ${forgotten.duplicate}, ` +
				`and Remove Duplicates dropped all ${emitted.length - passed.length} repeats; ${AFTER} received each of the ${TASKS} statuses once (${seconds(Date.now() - started)}, 3 starts of n8n)`
			);
		},
	},
];
