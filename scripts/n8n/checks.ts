import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import sharp from 'sharp';

import { signStandardWebhook, type SimTask } from '../../test/simulator';
import { INPUT_IMAGE, startServer, type Environment } from './environment';
import { nodeItems, type ExecuteOutcome, type NodeItem } from './n8n';
import type { RestClient } from './rest';
import { seconds, tail, waitFor } from './processes';
import {
	APPROVAL_EXPAND_NODE_ID,
	APPROVAL_WEBHOOK_PATH,
	CRASH_PROMPT,
	CRASH_WEBHOOK_PATH,
	FAILING_PROMPT,
	LIST_BY_PREFIX_PATH,
	QUEUE_CRASH_PROMPT,
	QUEUE_CRASH_WEBHOOK_PATH,
	QUEUE_ITEMS,
	QUEUE_PROMPT,
	QUEUE_SLOT_LIMIT,
	QUEUE_WEBHOOK_PATH,
} from './workflows';

/** One check against real n8n: returns a one-line result to print, or throws saying what was wrong. */
export interface Check {
	name: string;
	/** Needs `n8n start` running (environment.server). */
	server?: boolean;
	run(environment: Environment): Promise<string>;
}

/** Checks through `n8n execute --id`, each a workflow imported from examples/ or workflows.ts. */
export const cliChecks: Check[] = [
	{
		name: 'examples/local-image-to-disk.json: binary in, Submit and Wait, expanded image written to disk',
		async run({ n8n, simulator, workflows, filesDir }) {
			const outcome = await executeOk(n8n.execute.bind(n8n), workflows.localImageToDisk.id);
			const [item] = expectCount(
				nodeItems(outcome, 'Expand to 16:9'),
				1,
				'Expand to 16:9 output items',
			);
			const task = expectSucceeded(item, simulator.tasks);
			const { width, height } = expectImageSize(item, task);
			expectClose(width / height, 16 / 9, 0.005, 'output aspect ratio (16:9)');
			expectClose(
				(width * height) / (INPUT_IMAGE.width * INPUT_IMAGE.height),
				2,
				0.01,
				'output area ÷ input area',
			);
			const written = join(filesDir, 'kling', `expanded_${item.binary?.data?.fileName}`);
			if (!existsSync(written)) throw new Error(`the Write node did not create ${written}`);
			const onDisk = await sharp(written).metadata();
			if (onDisk.width !== width || onDisk.height !== height || onDisk.format !== 'png') {
				throw new Error(
					`${written} is a ${onDisk.width}×${onDisk.height} ${onDisk.format}; expected a ${width}×${height} png`,
				);
			}
			const externalId = String(item.json.external_task_id);
			// Kept for every try of the execution (so Retry On Fail cannot bill twice): n8n-<execution>-<random>-<run>-<item>.
			if (!/^n8n-\d+-[0-9a-f]{8}-0-0$/.test(externalId))
				throw new Error(
					`external_task_id is "${externalId}", not n8n-<execution>-<random>-<run>-<item>`,
				);
			return `task ${task.task_id} (external_task_id ${externalId}) succeeded; ${INPUT_IMAGE.width}×${INPUT_IMAGE.height} → ${width}×${height} PNG written to ${written} (${executeSeconds(outcome)})`;
		},
	},
	{
		name: 'aspect-ratio helper: 9:16 at 3× area',
		async run({ n8n, simulator, workflows }) {
			const outcome = await executeOk(n8n.execute.bind(n8n), workflows.aspectRatio.id);
			const [item] = expectCount(nodeItems(outcome, 'Expand to 9:16'), 1, 'output items');
			const task = expectSucceeded(item, simulator.tasks);
			// Independent of the node's helper: a 9:16 canvas of 3 × 800 × 600 px² is exactly 900 × 1600.
			const expectedHeight = Math.sqrt((3 * INPUT_IMAGE.width * INPUT_IMAGE.height) / (9 / 16));
			const expectedWidth = (expectedHeight * 9) / 16;
			const { width, height } = expectImageSize(item, task);
			expectClose(width, expectedWidth, 1, 'output width');
			expectClose(height, expectedHeight, 1, 'output height');
			const ratios = item.json.expansion as Record<string, number>;
			if (ratios.up !== ratios.down || ratios.left !== ratios.right)
				throw new Error(`ratios are not centred: ${JSON.stringify(ratios)}`);
			const sent = task.createBody;
			if (sent.up_expansion_ratio !== ratios.up || sent.left_expansion_ratio !== ratios.left) {
				throw new Error(
					`Kling was sent ${JSON.stringify(sent)}; the node reported ${JSON.stringify(ratios)}`,
				);
			}
			return `ratios up/down ${ratios.up}, left/right ${ratios.left} → ${width}×${height} (9:16, 3.00× area) (${executeSeconds(outcome)})`;
		},
	},
	{
		name: 'Get Task by external_task_id, with download',
		async run({ n8n, simulator, workflows }) {
			const outcome = await executeOk(n8n.execute.bind(n8n), workflows.getTask.id);
			const [submitted] = expectCount(
				nodeItems(outcome, 'Submit and Wait'),
				1,
				'Submit and Wait output items',
			);
			const [fetched] = expectCount(nodeItems(outcome, 'Get Task'), 1, 'Get Task output items');
			const externalId = String(submitted.json.external_task_id ?? '');
			if (!externalId.startsWith('e2e-get-task-'))
				throw new Error(`external_task_id is "${externalId}"`);
			if (fetched.json.task_id !== submitted.json.task_id) {
				throw new Error(
					`Get Task found ${String(fetched.json.task_id)}; Submit and Wait made ${String(submitted.json.task_id)}`,
				);
			}
			const task = expectSucceeded(fetched, simulator.tasks);
			const { width, height } = expectImageSize(fetched, task);
			return `found task ${task.task_id} by "${externalId}": ${fetched.json.task_status}, ${width}×${height} image downloaded (${executeSeconds(outcome)})`;
		},
	},
	{
		name: 'invalid expansion ratio: refused before anything is sent',
		async run({ n8n, simulator, workflows }) {
			const createsBefore = simulator.stats().creates;
			const outcome = await n8n.execute(workflows.invalidRatio.id);
			const error = expectFailure(outcome, 'Expand by Ratios');
			if (!/up expansion ratio/i.test(error.message) || !error.message.includes('2.4')) {
				// The user sees the label "Up Expansion Ratio", not the parameter name upExpansionRatio.
				throw new Error(
					`the error does not name the field as the panel labels it ("Up Expansion Ratio") and the value 2.4: "${error.message}"`,
				);
			}
			if (simulator.stats().creates !== createsBefore)
				throw new Error('a create request reached Kling anyway');
			return `"${error.message}"${error.description ? ` / "${error.description}"` : ''} (${executeSeconds(outcome)})`;
		},
	},
	{
		name: 'dry run (node version 1.1, no credential): the request it would send, nothing sent',
		async run({ n8n, simulator, workflows }) {
			const requestsBefore = simulator.requests.length;
			const outcome = await executeOk(n8n.execute.bind(n8n), workflows.dryRun.id);
			const [item] = expectCount(nodeItems(outcome, 'Dry Run 1200x628'), 1, 'output items');
			if (simulator.requests.length !== requestsBefore)
				throw new Error(`${simulator.requests.length - requestsBefore} request(s) reached Kling`);
			const request = item.json.request as Record<string, unknown>;
			const expansion = item.json.expansion as Record<string, unknown>;
			// 800×600 at the left edge of 1200×628: all 400 new columns on the right, 14 rows above and below.
			const expected = { left_expansion_ratio: 0, right_expansion_ratio: 0.5, n: 1 };
			for (const [field, value] of Object.entries(expected))
				if (request[field] !== value)
					throw new Error(`request.${field} is ${String(request[field])}, expected ${value}`);
			if (expansion.exact !== true || expansion.expected_width !== 1200)
				throw new Error(`expansion is ${JSON.stringify(expansion)}; expected exactly 1200×628`);
			return `dry_run ${String(item.json.dry_run)}; up/down ${String(request.up_expansion_ratio)}, left/right 0 / 0.5, exact 1200×628; no request to Kling (${executeSeconds(outcome)})`;
		},
	},
	{
		name: "failed task: the error carries Kling's reason and the task_id",
		async run({ n8n, simulator, workflows }) {
			const reason = 'Image review failed: the input violates the content policy (simulated)';
			simulator.failTasksWith(reason, (body) => body.prompt === FAILING_PROMPT);
			try {
				const outcome = await n8n.execute(workflows.failedTask.id);
				const error = expectFailure(outcome, 'Expand');
				const failed = [...simulator.tasks.values()].find(
					(task) => task.createBody.prompt === FAILING_PROMPT,
				);
				if (!failed || failed.task_status !== 'failed')
					throw new Error('the simulator holds no failed task');
				const text = `${error.message} ${error.description ?? ''}`;
				if (!text.includes(reason) || !text.includes(failed.task_id)) {
					throw new Error(`the error lacks the reason or task ${failed.task_id}: "${text}"`);
				}
				return `"${error.message}"${error.description ? ` / "${error.description}"` : ''} (${executeSeconds(outcome)})`;
			} finally {
				simulator.failTasksWith(null);
			}
		},
	},
];

/** Checks against `n8n start`: the published trigger workflow receives Kling's callbacks at its production URL. */
export const serverChecks: Check[] = [
	{
		name: 'forged callbacks start nothing',
		server: true,
		async run({ server, workflows }) {
			const { rest } = requireServer(server);
			const url = triggerUrl(server, workflows);
			const before = (await rest.executions(workflows.triggerToSlack.id)).length;
			const body = JSON.stringify({
				task_id: '1',
				task_status: 'succeed',
				task_status_msg: '',
				task_result: { images: [] },
			});
			const timestamp = String(Math.floor(Date.now() / 1000));
			const wrongSecret = `whsec_${Buffer.from('not the simulator secret!').toString('base64')}`;
			const attempts: [string, Record<string, string>][] = [
				['unsigned', {}],
				[
					'signed with another secret',
					{
						'webhook-id': 'msg_forged',
						'webhook-timestamp': timestamp,
						'webhook-signature': signStandardWebhook(wrongSecret, 'msg_forged', timestamp, body),
					},
				],
			];
			const answers: string[] = [];
			for (const [what, headers] of attempts) {
				const response = await fetch(url, {
					method: 'POST',
					headers: { 'content-type': 'application/json', ...headers },
					body,
				});
				const text = await response.text();
				if (response.status !== 401)
					throw new Error(`${what}: answered ${response.status} ${text}; expected 401`);
				answers.push(`${what} → 401 ${text}`);
			}
			await settle();
			const after = (await rest.executions(workflows.triggerToSlack.id)).length;
			if (after !== before)
				throw new Error(`${after - before} execution(s) started by forged callbacks`);
			return `${answers.join('; ')}; executions of the trigger workflow: ${after}`;
		},
	},
	{
		name: 'examples/submit-with-callback.json → signed callbacks → examples/trigger-to-slack.json runs once',
		server: true,
		async run({ n8n, server, simulator, workflows }) {
			const { rest } = requireServer(server);
			const url = triggerUrl(server, workflows);
			const before = (await rest.executions(workflows.triggerToSlack.id)).length;
			// `n8n execute` beside the running server, on the same database, as a user clicking "Execute workflow".
			const outcome = await executeOk(n8n.execute.bind(n8n), workflows.submitWithCallback.id);
			const [submitted] = expectCount(
				nodeItems(outcome, 'Submit Expansion'),
				1,
				'Submit Expansion output items',
			);
			const taskId = String(submitted.json.task_id);

			const deliveries = await waitFor(
				`the simulator's succeed callback for task ${taskId}`,
				async () => {
					const forTask = simulator.callbackDeliveries.filter(
						(delivery) => delivery.body.task_id === taskId,
					);
					return forTask.some((delivery) => delivery.body.task_status === 'succeed')
						? forTask
						: undefined;
				},
				30_000,
			);
			const wrongTarget = deliveries.find(
				(delivery) => delivery.url !== url || delivery.status !== 200,
			);
			if (wrongTarget)
				throw new Error(
					`a callback went to ${wrongTarget.url} and got ${wrongTarget.status} ${wrongTarget.error ?? ''}`,
				);
			const execution = await waitFor(
				'the trigger workflow execution to finish',
				async () => {
					const finished = (await rest.executions(workflows.triggerToSlack.id)).filter(
						(run) => run.status !== 'running' && run.status !== 'new',
					);
					return finished.length > before ? finished[0] : undefined;
				},
				30_000,
			);
			if (execution.status !== 'success')
				throw new Error(
					`the trigger workflow execution ${execution.id} ended "${execution.status}"`,
				);
			const detail = await rest.execution(execution.id);
			const triggerItem =
				detail.data.resultData.runData['Kling Expand Trigger']?.[0]?.data?.main?.[0]?.[0];
			if (triggerItem?.json.task_id !== taskId || triggerItem.json.task_status !== 'succeed') {
				throw new Error(
					`the trigger emitted ${JSON.stringify(triggerItem?.json)}; expected task ${taskId}, succeed`,
				);
			}

			// Kling may deliver the same callback twice: the replay is acknowledged and starts nothing.
			const succeed = deliveries.find((delivery) => delivery.body.task_status === 'succeed');
			if (!succeed) throw new Error('no succeed delivery recorded');
			const replay = await fetch(url, {
				method: 'POST',
				headers: succeed.headers,
				body: succeed.rawBody,
			});
			if (replay.status !== 200) throw new Error(`the replayed callback answered ${replay.status}`);
			await settle();
			const after = await rest.executions(workflows.triggerToSlack.id);
			if (after.length !== before + 1)
				throw new Error(`${after.length - before} executions for one task; expected 1`);

			const statuses = deliveries
				.map((delivery) => `${delivery.body.task_status} ${delivery.status}`)
				.join(', ');
			return `task ${taskId}: callbacks ${statuses}; execution ${execution.id} (mode ${execution.mode}) ${execution.status} with task_status succeed; a replay started nothing`;
		},
	},
	{
		name: "Submit and Wait (callback) followed by a Wait node (On Webhook Call): Kling's callback URL resumes the Kling node only, never the approval step",
		server: true,
		async run({ server, simulator, workflows, imageUrl }) {
			const { rest, url } = requireServer(server);
			const workflowId = workflows.callbackThenApproval.id;
			const prompt = `approval e2e ${Date.now()}`;
			const call = await fetch(`${url}/webhook/${APPROVAL_WEBHOOK_PATH}`, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ url: imageUrl, prompt }),
			});
			if (call.status !== 200)
				throw new Error(`the workflow's webhook answered ${call.status}: ${await call.text()}`);
			const atApproval = await waitFor(
				'the execution to pass Kling Expand and wait at the approval step',
				async () => {
					const [latest] = await rest.executions(workflowId);
					if (latest?.status !== 'waiting') return undefined;
					const detail = await rest.execution(latest.id);
					return detail.data.resultData.lastNodeExecuted === 'Approval' ? detail : undefined;
				},
				60_000,
			);
			const executionId = atApproval.id;
			const task = [...simulator.tasks.values()].find((each) => each.createBody.prompt === prompt);
			if (!task) throw new Error(`the simulator holds no task prompted "${prompt}"`);
			const callbackUrl = new URL(String(task.createBody.callback_url));
			const expectedPath = `/webhook-waiting/${executionId}/${APPROVAL_EXPAND_NODE_ID}`;
			if (callbackUrl.pathname !== expectedPath)
				throw new Error(`Kling was given ${callbackUrl.pathname}; expected ${expectedPath}`);

			// Kling retrying, or anyone who saw the URL, posts it again: n8n finds no webhook for it.
			const replay = await fetch(callbackUrl, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ ...task, approved: true }),
			});
			const replayText = await replay.text();
			if (replay.status !== 404)
				throw new Error(
					`the replayed callback answered ${replay.status} ${replayText}; expected 404`,
				);
			await settle();
			const still = await rest.execution(executionId);
			if (still.status !== 'waiting' || still.data.resultData.lastNodeExecuted !== 'Approval')
				throw new Error(
					`after the replay execution ${executionId} is "${still.status}" at ${String(still.data.resultData.lastNodeExecuted)}; expected waiting at Approval`,
				);

			// The approval step's own URL (the execution's, no node suffix) still resumes it.
			const approvalUrl = new URL(callbackUrl);
			approvalUrl.pathname = `/webhook-waiting/${executionId}`;
			for (const key of [...approvalUrl.searchParams.keys()])
				if (key !== 'signature') approvalUrl.searchParams.delete(key);
			const approve = await fetch(approvalUrl, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ approved: true }),
			});
			if (approve.status !== 200)
				throw new Error(`the approval URL answered ${approve.status} ${await approve.text()}`);
			const finished = await waitFor(
				'the execution to finish after the approval',
				async () => {
					const now = await rest.execution(executionId);
					return now.status === 'waiting' || now.status === 'running' ? undefined : now;
				},
				30_000,
			);
			if (finished.status !== 'success')
				throw new Error(`execution ${executionId} ended "${finished.status}"`);
			const kling = finished.data.resultData.runData['Kling Expand']?.[0]?.data?.main?.[0] ?? [];
			if (kling[0]?.json.task_status !== 'succeed')
				throw new Error(`Kling Expand output ${JSON.stringify(kling[0]?.json ?? {})}`);
			return `Kling was given ${callbackUrl.pathname}; after the batch resumed, a replay of it answered 404 (${replayText.slice(0, 120)}) and execution ${executionId} stayed waiting at Approval; the approval URL then resumed it to success`;
		},
	},
	{
		name: "kill -9 of n8n start mid-batch: every accepted task is named in the log and found by List Tasks; after a restart, n8n's Retry with Reuse Task for Same Input on bills only the items not yet created",
		server: true,
		async run(environment) {
			const { simulator, workflows, imageUrl } = environment;
			const server = requireServer(environment.server);
			const items = 4;
			const runId = Date.now();
			const prompt = (index: number) => `${CRASH_PROMPT}${runId} ${index}`;
			const ours = () =>
				[...simulator.tasks.values()].filter((task) =>
					String(task.createBody.prompt).startsWith(`${CRASH_PROMPT}${runId} `),
				);
			const startRun = async (baseUrl: string) =>
				await fetch(`${baseUrl}/webhook/${CRASH_WEBHOOK_PATH}`, {
					method: 'POST',
					headers: { 'content-type': 'application/json' },
					body: JSON.stringify({
						images: Array.from({ length: items }, (_, index) => ({
							url: imageUrl,
							prompt: prompt(index),
						})),
					}),
				});
			const call = await startRun(server.url);
			if (call.status !== 200)
				throw new Error(`the workflow's webhook answered ${call.status}: ${await call.text()}`);
			await waitFor(
				'Kling to accept 2 of the 4 creates',
				async () => (ours().length >= 2 ? true : undefined),
				60_000,
				20,
			);
			await server.process.kill();
			const crashed = ours();
			const externalIds = crashed.map((task) => task.task_info.external_task_id);
			const executionId = /^n8n-(\d+)-/.exec(externalIds[0])?.[1];
			if (!executionId) throw new Error(`external_task_id ${externalIds[0]} names no execution`);

			const log = readFileSync(server.process.logFile, 'utf8');
			const unnamed = externalIds.filter(
				(id) => !log.includes(`sending a create under external_task_id ${id} `),
			);
			if (unnamed.length)
				throw new Error(
					`n8n's log does not name ${unnamed.join(', ')} (log: ${server.process.logFile})`,
				);
			const acceptedLogged = crashed.filter((task) =>
				log.includes(`Kling accepted task ${task.task_id} `),
			).length;

			const restarted = await startServer(environment);
			const listUrl = `${restarted.url}/webhook/${LIST_BY_PREFIX_PATH}`;
			const listed = await waitFor(
				'the List Tasks webhook to answer after the restart',
				async () => {
					const answer = await fetch(listUrl, {
						method: 'POST',
						headers: { 'content-type': 'application/json' },
						body: JSON.stringify({ prefix: `n8n-${executionId}-` }),
					});
					return answer.status === 200
						? ((await answer.json()) as Array<{ task_id?: string }>)
						: undefined;
				},
				60_000,
				500,
			);
			const listedIds = (Array.isArray(listed) ? listed : [listed])
				.map((task) => task.task_id)
				.sort();
			const crashedIds = crashed.map((task) => task.task_id).sort();
			if (JSON.stringify(listedIds) !== JSON.stringify(crashedIds))
				throw new Error(
					`List Tasks by n8n-${executionId}- found ${listedIds.join(', ')}; Kling holds ${crashedIds.join(', ')}`,
				);

			const { rest } = restarted;
			const before = await rest.execution(executionId);
			let how: string;
			try {
				await rest.json('POST', `/rest/executions/${executionId}/retry`, { loadWorkflow: false });
				how = `n8n's Retry of the ${before.status} execution`;
			} catch (error) {
				// n8n keeps no data to retry a crashed execution from: run the workflow again instead.
				how = `a new run (n8n refused to retry the ${before.status} execution: ${(error as Error).message.slice(0, 160)})`;
				const again = await startRun(restarted.url);
				if (again.status !== 200) throw new Error(`the re-run's webhook answered ${again.status}`);
			}
			const { finishedId, reused, creates } = await expectBilledOnce(rest, {
				workflowId: workflows.crashRecovery.id,
				crashedExecutionId: executionId,
				crashedIds,
				items,
				creates: () => ours().length,
			});
			return (
				`killed n8n with ${crashed.length} of ${items} tasks accepted (execution ${executionId}, now "${before.status}"): n8n's log named all ${crashed.length} before sending (${acceptedLogged} also with their task_id: the others were accepted as n8n died); ` +
				`List Tasks by n8n-${executionId}- found exactly them after the restart; ${how} (execution ${finishedId}) took those ${reused} and created ${items - reused}: ${creates} creates for ${items} items`
			);
		},
	},
];

/** Checks against n8n in queue mode (startQueueMode: Redis, main, two workers). */
export const queueChecks: Check[] = [
	{
		name: `queue mode: Submit and Wait (callback), ${QUEUE_ITEMS} items on an account with ${QUEUE_SLOT_LIMIT} slots: each submitted once, only the last wave given the resume URL, the worker held until the earlier waves ended, the execution sleeps through partial callbacks, refuses an altered resume URL, and another worker finishes it`,
		server: true,
		async run({ server, workers, simulator, workflows, imageUrl }) {
			const { rest } = requireServer(server);
			if (!workers || workers.length < 2) throw new Error('queue mode needs two workers');
			const workflowId = workflows.callbackInQueueMode.id;
			const before = simulator.stats();
			const started = Date.now();
			const images = Array.from({ length: QUEUE_ITEMS }, (_, index) => ({
				url: imageUrl,
				prompt: `${QUEUE_PROMPT}${index}`,
			}));
			const call = await fetch(`${requireServer(server).url}/webhook/${QUEUE_WEBHOOK_PATH}`, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ images }),
			});
			if (call.status !== 200)
				throw new Error(`the workflow's webhook answered ${call.status}: ${await call.text()}`);

			const waiting = await waitFor(
				'the execution to be waiting',
				async () => (await rest.executions(workflowId)).find((run) => run.status === 'waiting'),
				90_000,
			);
			const heldFor = seconds(Date.now() - started);
			const executionId = waiting.id;
			const startedBy = (worker: (typeof workers)[number]) =>
				readFileSync(worker.logFile, 'utf8').split(`Worker started execution ${executionId} `)
					.length - 1;
			const first = await waitFor(
				`the worker log that ran execution ${executionId}`,
				async () => {
					const ran = workers.filter(
						(worker) =>
							startedBy(worker) === 1 &&
							readFileSync(worker.logFile, 'utf8').includes(
								`Worker finished execution ${executionId} `,
							),
					);
					return ran.length === 1 ? ran[0] : undefined;
				},
				15_000,
			);
			// Callback mode's external ids name the execution.
			const tasks = () =>
				[...simulator.tasks.values()].filter((task) =>
					String(task.createBody.external_task_id ?? '').startsWith(`n8n-${executionId}-`),
				);
			const withResumeUrl = (task: ReturnType<typeof tasks>[number]) =>
				String(task.createBody.callback_url ?? '').includes(`/webhook-waiting/${executionId}/`);
			const created = tasks();
			// Every item submitted exactly once before the sleep, within the account's slots, none refused.
			const prompts = created.map((task) => String(task.createBody.prompt)).sort();
			const expectedPrompts = images.map((image) => image.prompt).sort();
			if (JSON.stringify(prompts) !== JSON.stringify(expectedPrompts))
				throw new Error(
					`the tasks of execution ${executionId} are prompted ${prompts.join(', ')}; expected each of ${expectedPrompts.join(', ')} once`,
				);
			// Only the last wave can end while the execution sleeps, so only it carries the resume URL.
			const lastWave = images.slice(-QUEUE_SLOT_LIMIT).map((image) => image.prompt);
			const resumable = created
				.filter(withResumeUrl)
				.map((task) => String(task.createBody.prompt))
				.sort();
			if (JSON.stringify(resumable) !== JSON.stringify([...lastWave].sort()))
				throw new Error(
					`the tasks with the resume URL are prompted ${resumable.join(', ')}; expected the last wave, ${lastWave.join(', ')}`,
				);
			const submitted = simulator.stats();
			if (submitted.peakSlots > QUEUE_SLOT_LIMIT)
				throw new Error(
					`${submitted.peakSlots} slots were held at once; the account has ${QUEUE_SLOT_LIMIT}`,
				);
			if (submitted.rejected1303 !== before.rejected1303)
				throw new Error(
					`${submitted.rejected1303 - before.rejected1303} creates were refused with 1303`,
				);
			const unfinished = created.filter(
				(task) => task.task_status !== 'succeed' && task.task_status !== 'failed',
			);
			if (unfinished.length === 0)
				throw new Error(
					'every task had ended before the execution slept: nothing was left for the callbacks',
				);

			// n8n itself guards the resume URL: a callback with a wrong signature is refused and resumes nothing.
			const resumeUrl = String(unfinished[0].createBody.callback_url);
			const body = JSON.stringify({
				...unfinished[0],
				task_status: 'succeed',
				task_status_msg: '',
				task_result: { images: [] },
			});
			const forged = new URL(resumeUrl);
			forged.searchParams.set('signature', 'forged');
			const forgedAnswer = await fetch(forged, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body,
			});
			if (forgedAnswer.status !== 401)
				throw new Error(
					`a resume callback with a wrong signature answered ${forgedAnswer.status}; expected 401`,
				);
			// n8n does not sign the node's batch identity: the node does, and refuses an altered one before asking Kling anything.
			const requestsBefore = simulator.stats();
			const altered: string[] = [];
			for (const [parameter, value] of [
				['kling_items', '1'],
				['kling_items', '10000'],
				['kling_batch', 'deadbeef0'],
				['kling_execution', String(Number(executionId) + 1)],
			]) {
				const url = new URL(resumeUrl);
				url.searchParams.set(parameter, value);
				const answer = await fetch(url, {
					method: 'POST',
					headers: { 'content-type': 'application/json' },
					body,
				});
				if (answer.status !== 401)
					throw new Error(
						`a resume URL with ${parameter}=${value} answered ${answer.status} ${await answer.text()}; expected 401`,
					);
				altered.push(`${parameter}=${value}`);
			}
			const requestsAfter = simulator.stats();
			const asked =
				requestsAfter.queries +
				requestsAfter.lists +
				requestsAfter.creates -
				(requestsBefore.queries + requestsBefore.lists + requestsBefore.creates);
			if (asked !== 0)
				throw new Error(`the altered resume URLs made ${asked} provider requests; expected none`);

			// The worker finished its job when the execution went to sleep: stopping it loses nothing.
			await first.stop();
			const second = workers.find((worker) => worker !== first && worker.running);
			if (!second) throw new Error('no other worker is running');
			const afterStop = `${first.name} (which ran execute()) stopped at ${seconds(Date.now() - started)}`;

			const ended = () =>
				tasks().filter((task) => task.task_status === 'succeed' || task.task_status === 'failed');
			const expectWaiting = async (moment: string) => {
				const now = await rest.execution(executionId);
				if (now.status !== 'waiting')
					throw new Error(
						`execution ${executionId} is "${now.status}" ${moment}; expected "waiting"`,
					);
			};
			await waitFor(
				`${QUEUE_ITEMS - 1} of ${QUEUE_ITEMS} tasks to end and their succeed callbacks to be answered`,
				async () => {
					const endedTasks = ended();
					const calling = new Set(endedTasks.filter(withResumeUrl).map((task) => task.task_id));
					const answered = simulator.callbackDeliveries.filter(
						(delivery) =>
							calling.has(delivery.body.task_id) &&
							delivery.body.task_status === 'succeed' &&
							delivery.status !== 'error',
					);
					return endedTasks.length === QUEUE_ITEMS - 1 &&
						new Set(answered.map((delivery) => delivery.body.task_id)).size === calling.size
						? true
						: undefined;
				},
				90_000,
			);
			await expectWaiting(`after ${QUEUE_ITEMS - 1} of ${QUEUE_ITEMS} tasks ended`);

			const finished = await waitFor(
				'the execution to finish',
				async () => {
					const now = await rest.execution(executionId);
					return now.status === 'waiting' || now.status === 'running' || now.status === 'new'
						? undefined
						: now;
				},
				60_000,
			);
			if (finished.status !== 'success')
				throw new Error(
					`execution ${executionId} ended "${finished.status}": ${JSON.stringify(finished.data.resultData.error ?? {})}`,
				);
			if (startedBy(second) !== 1)
				throw new Error(
					`${second.name}'s log does not show it continuing execution ${executionId}`,
				);
			if (startedBy(first) !== 1)
				throw new Error(`${first.name} ran execution ${executionId} again after being stopped`);

			const output = finished.data.resultData.runData['Kling Expand']?.[0]?.data?.main?.[0] ?? [];
			const after = finished.data.resultData.runData['After Expand']?.[0]?.data?.main?.[0] ?? [];
			if (output.length !== QUEUE_ITEMS || after.length !== QUEUE_ITEMS)
				throw new Error(
					`Kling Expand output ${output.length} items and After Expand ${after.length}; expected ${QUEUE_ITEMS} each`,
				);
			output.forEach((item, index) => {
				const task = simulator.tasks.get(String(item.json.task_id));
				if (task?.createBody.prompt !== `${QUEUE_PROMPT}${index}`)
					throw new Error(
						`output item ${index} is task ${String(item.json.task_id)}, prompted "${String(task?.createBody.prompt)}"`,
					);
				const image = item.json.image as { width?: number; height?: number } | undefined;
				if (
					item.json.task_status !== 'succeed' ||
					item.json.wait_status !== 'completed' ||
					image?.width !== task.resultImageSize.width ||
					image?.height !== task.resultImageSize.height
				) {
					throw new Error(
						`output item ${index}: ${JSON.stringify({ task_status: item.json.task_status, wait_status: item.json.wait_status, image })}; expected succeed, completed, ${task.resultImageSize.width}×${task.resultImageSize.height}`,
					);
				}
			});
			const ids = new Set(created.map((task) => task.task_id));
			const downloads = simulator.requests.filter((request) =>
				[...ids].some((id) => request.path.startsWith(`/results/${id}/`)),
			).length;
			if (downloads !== QUEUE_ITEMS)
				throw new Error(
					`${downloads} result downloads for ${QUEUE_ITEMS} images; expected one each`,
				);
			const total = simulator.stats();
			const cost = {
				creates: total.creates - before.creates,
				queries: total.queries - before.queries,
				lists: total.lists - before.lists,
			};
			return (
				`execution ${executionId}: ${QUEUE_ITEMS} tasks on ${QUEUE_SLOT_LIMIT} slots (peak ${submitted.peakSlots}, no 1303), ${first.name} held ${heldFor} until the earlier waves ended, then the execution slept with ${unfinished.length} unfinished; ` +
				`a forged n8n signature and altered ${altered.join(', ')} got 401 with no provider request; ${afterStop}; waiting after ${QUEUE_ITEMS - 1} of ${QUEUE_ITEMS} tasks ended; ` +
				`${second.name} continued it to success at ${seconds(Date.now() - started)}; output in input order with ${downloads} images downloaded once each; ` +
				`provider requests ${cost.creates} creates, ${cost.queries} queries, ${cost.lists} lists for ${QUEUE_ITEMS} tasks`
			);
		},
	},
	{
		name: "queue mode: kill -9 of the worker mid-submit (Submit and Wait, callback): every accepted task is named in the worker's log and found by List Tasks; after a new worker starts, n8n's Retry (or a new run, if n8n refuses) with Reuse Task for Same Input on bills only the items not yet created",
		server: true,
		async run(environment) {
			const { simulator, workflows, imageUrl } = environment;
			const server = requireServer(environment.server);
			const { rest } = server;
			if (!environment.startWorker) throw new Error('queue mode is not running');
			const items = 4;
			const runId = Date.now();
			const ours = () =>
				[...simulator.tasks.values()].filter((task) =>
					String(task.createBody.prompt).startsWith(`${QUEUE_CRASH_PROMPT}${runId} `),
				);
			const startRun = async () =>
				await fetch(`${server.url}/webhook/${QUEUE_CRASH_WEBHOOK_PATH}`, {
					method: 'POST',
					headers: { 'content-type': 'application/json' },
					body: JSON.stringify({
						images: Array.from({ length: items }, (_, index) => ({
							url: imageUrl,
							prompt: `${QUEUE_CRASH_PROMPT}${runId} ${index}`,
						})),
					}),
				});
			if (!(environment.workers ?? []).some((worker) => worker.running))
				await environment.startWorker('worker-before-crash');
			const call = await startRun();
			if (call.status !== 200)
				throw new Error(`the workflow's webhook answered ${call.status}: ${await call.text()}`);
			// One item at a time: the worker is still submitting when two tasks are accepted.
			await waitFor(
				`Kling to accept 2 of the ${items} creates`,
				async () => (ours().length >= 2 ? true : undefined),
				60_000,
				20,
			);
			const firstIds = ours().map((task) => task.task_info.external_task_id);
			const executionId = /^n8n-(\d+)-/.exec(firstIds[0])?.[1];
			if (!executionId) throw new Error(`external_task_id ${firstIds[0]} names no execution`);
			const worker = (environment.workers ?? []).find(
				(each) =>
					each.running &&
					readFileSync(each.logFile, 'utf8').includes(`in execution ${executionId}`),
			);
			if (!worker) throw new Error(`no running worker's log names execution ${executionId}`);
			await worker.kill();
			const crashed = ours();
			if (crashed.length >= items)
				throw new Error(`all ${items} tasks were created before the worker was killed`);
			const crashedIds = crashed.map((task) => task.task_id).sort();

			const log = readFileSync(worker.logFile, 'utf8');
			const unnamed = crashed
				.map((task) => task.task_info.external_task_id)
				.filter((id) => !log.includes(`sending a create under external_task_id ${id} `));
			if (unnamed.length)
				throw new Error(
					`${worker.name}'s log does not name ${unnamed.join(', ')} (${worker.logFile})`,
				);
			const acceptedLogged = crashed.filter((task) =>
				log.includes(`Kling accepted task ${task.task_id} `),
			).length;

			// Queue mode runs every workflow on a worker, List Tasks too.
			const restarted = await environment.startWorker(`${worker.name}-restarted`);
			const listed = (await (
				await fetch(`${server.url}/webhook/${LIST_BY_PREFIX_PATH}`, {
					method: 'POST',
					headers: { 'content-type': 'application/json' },
					body: JSON.stringify({ prefix: `n8n-${executionId}-` }),
				})
			).json()) as Array<{ task_id?: string }> | { task_id?: string };
			const listedIds = (Array.isArray(listed) ? listed : [listed])
				.map((task) => String(task.task_id))
				.sort();
			if (JSON.stringify(listedIds) !== JSON.stringify(crashedIds))
				throw new Error(
					`List Tasks by n8n-${executionId}- found ${listedIds.join(', ')}; Kling holds ${crashedIds.join(', ')}`,
				);

			const before = await rest.execution(executionId);
			let how: string;
			const retry = async () =>
				await rest.json('POST', `/rest/executions/${executionId}/retry`, { loadWorkflow: false });
			try {
				await retry();
				how = `n8n's Retry of the "${before.status}" execution`;
			} catch (refused) {
				// n8n marks an execution whose worker died as crashed only at its next queue recovery;
				// until then it shows "running", which n8n does not retry: run the workflow again instead.
				how = `a new run (n8n refused to retry the "${before.status}" execution: ${(refused as Error).message.slice(0, 120)})`;
				const again = await startRun();
				if (again.status !== 200) throw new Error(`the re-run's webhook answered ${again.status}`);
			}
			const { finishedId, reused, creates } = await expectBilledOnce(rest, {
				workflowId: workflows.crashInQueueMode.id,
				crashedExecutionId: executionId,
				crashedIds,
				items,
				creates: () => ours().length,
			});
			return (
				`killed ${worker.name} (kill -9) with ${crashed.length} of ${items} tasks accepted (execution ${executionId}, now "${before.status}"): its log named all ${crashed.length} before sending (${acceptedLogged} also with their task_id); ` +
				`List Tasks by n8n-${executionId}- found exactly them; ${restarted.name} started; ${how} (execution ${finishedId}) took those ${reused} and created ${items - reused}: ${creates} creates for ${items} items`
			);
		},
	},
];

/**
 * Waits for the run after a crash (n8n's Retry, or a new run of the workflow) to succeed, and checks
 * what it billed: every item succeeded, the crashed run's tasks were taken again, and creates in
 * total equal the items.
 */
async function expectBilledOnce(
	rest: RestClient,
	expected: {
		workflowId: string;
		crashedExecutionId: string;
		crashedIds: string[];
		items: number;
		creates: () => number;
	},
): Promise<{ finishedId: string; reused: number; creates: number }> {
	const { workflowId, crashedExecutionId, crashedIds, items } = expected;
	const finished = await waitFor(
		'the second run to finish',
		async () => {
			const runs = await rest.executions(workflowId);
			const later = runs.filter((run) => Number(run.id) > Number(crashedExecutionId));
			const failed = later.find((run) => run.status === 'error' || run.status === 'crashed');
			if (failed) throw new Error(`execution ${failed.id} ended "${failed.status}"`);
			return later.find((run) => run.status === 'success');
		},
		120_000,
	);
	const detail = await rest.execution(finished.id);
	const output = detail.data.resultData.runData['Kling Expand']?.[0]?.data?.main?.[0] ?? [];
	const reused = output.filter((item) => crashedIds.includes(String(item.json.task_id))).length;
	const creates = expected.creates();
	if (output.length !== items || output.some((item) => item.json.task_status !== 'succeed'))
		throw new Error(
			`execution ${finished.id} output ${JSON.stringify(output.map((item) => item.json.task_status))}`,
		);
	if (creates !== items || reused !== crashedIds.length)
		throw new Error(
			`${creates} creates for ${items} items; the second run took ${reused} of the ${crashedIds.length} crashed run's tasks`,
		);
	return { finishedId: finished.id, reused, creates };
}

function triggerUrl(server: Environment['server'], workflows: Environment['workflows']): string {
	const trigger = workflows.triggerToSlack.nodes.find((node) => node.webhookId);
	if (!trigger?.webhookId) throw new Error('the trigger workflow has no webhookId');
	return requireServer(server).webhookUrl(trigger.webhookId, 'kling-expand');
}

function requireServer(server: Environment['server']) {
	if (!server) throw new Error('n8n start is not running');
	return server;
}

async function executeOk(
	execute: (id: string) => Promise<ExecuteOutcome>,
	workflowId: string,
): Promise<ExecuteOutcome> {
	const outcome = await execute(workflowId);
	const error = outcome.error;
	if (error) {
		throw new Error(
			`execution failed${error.node ? ` in "${error.node}"` : ''}: ${error.message}${error.description ? ` (${error.description})` : ''}`,
		);
	}
	if (!outcome.ok) {
		const { code, signal } = outcome.exit;
		throw new Error(
			`the run succeeded, but n8n execute exited with code ${code}${signal ? ` (${signal})` : ''}:\n${tail(outcome.output, 15)}`,
		);
	}
	return outcome;
}

function expectFailure(
	outcome: ExecuteOutcome,
	nodeName: string,
): NonNullable<ExecuteOutcome['error']> {
	if (outcome.ok || !outcome.error)
		throw new Error('the execution succeeded; it should have failed');
	if (outcome.error.node !== nodeName)
		throw new Error(
			`the error came from "${outcome.error.node}", not "${nodeName}": ${outcome.error.message}`,
		);
	return outcome.error;
}

function expectCount(items: NodeItem[], count: number, what: string): NodeItem[] {
	if (items.length !== count) throw new Error(`${what}: ${items.length}, expected ${count}`);
	return items;
}

function expectSucceeded(item: NodeItem, tasks: Map<string, SimTask>): SimTask {
	const task = tasks.get(String(item.json.task_id));
	if (!task) throw new Error(`task ${String(item.json.task_id)} is unknown to the simulator`);
	if (item.json.task_status !== 'succeed')
		throw new Error(`task ${task.task_id} is "${String(item.json.task_status)}"`);
	if (
		task.sourceSize.width !== INPUT_IMAGE.width ||
		task.sourceSize.height !== INPUT_IMAGE.height
	) {
		throw new Error(
			`Kling received a ${task.sourceSize.width}×${task.sourceSize.height} image, not the ${INPUT_IMAGE.width}×${INPUT_IMAGE.height} input`,
		);
	}
	return task;
}

/** The downloaded image's size, agreeing across the node's json, its binary and the simulator's render. */
function expectImageSize(item: NodeItem, task: SimTask): { width: number; height: number } {
	const image = item.json.image as
		| { width?: number; height?: number; file_name?: string }
		| undefined;
	const binary = item.binary?.data;
	if (!image || !binary)
		throw new Error(
			`no downloaded image on the item (json.image ${JSON.stringify(image)}, binary ${JSON.stringify(binary)})`,
		);
	if (binary.mimeType !== 'image/png' || !binary.bytes || binary.fileName !== image.file_name) {
		throw new Error(`binary data looks wrong: ${JSON.stringify(binary)}`);
	}
	const { width = 0, height = 0 } = image;
	const expected = task.resultImageSize;
	if (width !== expected.width || height !== expected.height) {
		throw new Error(
			`downloaded image is ${width}×${height}; the simulator rendered ${expected.width}×${expected.height}`,
		);
	}
	const expansion = item.json.expansion as
		| { expected_width?: number; expected_height?: number }
		| undefined;
	if (expansion && (expansion.expected_width !== width || expansion.expected_height !== height)) {
		throw new Error(
			`the node expected ${expansion.expected_width}×${expansion.expected_height} but got ${width}×${height}`,
		);
	}
	return { width, height };
}

function expectClose(actual: number, expected: number, tolerance: number, what: string): void {
	if (Math.abs(actual - expected) > tolerance)
		throw new Error(`${what} is ${actual}; expected ${expected} ± ${tolerance}`);
}

function executeSeconds(outcome: ExecuteOutcome): string {
	return `n8n execute ${seconds(outcome.ms)}`;
}

/** Time for a webhook that was (wrongly) accepted to show up as an execution. */
const settle = () => new Promise<void>((done) => setTimeout(done, 1500));
