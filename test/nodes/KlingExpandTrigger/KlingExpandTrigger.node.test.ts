import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	INode,
	INodeExecutionData,
	INodeParameters,
	INodeProperties,
} from 'n8n-workflow';
import { NodeHelpers } from 'n8n-workflow';
import sharp from 'sharp';

import { capturedLogs, loadPackage, NODE_TYPES, runWorkflow } from '../../harness/engine';
import { testImage, useSimulator } from '../../harness/fixtures';
import type { WebhookServer } from '../../harness/webhooks';
import {
	activateTrigger,
	serveTrigger,
	TRIGGER_NODE,
	triggerWorkflow,
} from '../../harness/webhooks';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../harness/workflows';
import type { CallbackMode, TaskStatus } from '../../simulator';
import { SIMULATOR_DEFAULT_KEYS, signStandardWebhook } from '../../simulator';

const SECRET = SIMULATOR_DEFAULT_KEYS.webhookSecret;
const CREDENTIALS = { klingApi: { webhookSecret: SECRET } };
const TOKEN = 'shared-token-Zq81';

const servers: WebhookServer[] = [];
afterEach(async () => {
	await Promise.all(servers.splice(0).map(async (server) => await server.close()));
});

let nodeCount = 0;
/**
 * The trigger (version 2 unless told otherwise) served as n8n serves a published workflow, each delivery
 * reading its copy of the static data from a "database" that takes a few milliseconds, as n8n's does. Each
 * server gets a node id of its own: the trigger remembers deliveries per workflow and node, as each real
 * workflow would.
 */
async function serve(
	parameters: INodeParameters = {},
	credentials: Record<string, ICredentialDataDecryptedObject> = CREDENTIALS,
	node: Partial<INode> = {},
	options: { staticData?: IDataObject } = {},
): Promise<WebhookServer> {
	const server = await serveTrigger(
		triggerWorkflow(parameters, { typeVersion: 2, id: `trigger-${++nodeCount}`, ...node }),
		TRIGGER_NODE,
		credentials,
		{
			databaseLatencyMs: 5,
			saveJitterMs: 20,
			...options,
		},
	);
	servers.push(server);
	return server;
}

let taskCount = 0;
/** A task as Kling sends it in a callback, with a task_id no other test uses. */
function klingTask(status: TaskStatus = 'succeed', overrides: IDataObject = {}): IDataObject {
	const taskId = `task-${++taskCount}-${Date.now()}`;
	return {
		task_id: taskId,
		task_status: status,
		task_status_msg: status === 'failed' ? 'content moderation' : '',
		task_info: { external_task_id: `ext-${taskId}` },
		final_unit_deduction: '8',
		watermark_info: { enabled: false },
		created_at: 1781080700000,
		updated_at: 1781080794000,
		...(status === 'succeed'
			? { task_result: { images: [{ index: 0, url: `https://cdn.example/${taskId}/0.png` }] } }
			: {}),
		...overrides,
	};
}

/** What the Kling Expand node outputs for that task: the same normalisation, the same field names. */
function normalised(task: IDataObject): IDataObject {
	const externalTaskId = (task.task_info as IDataObject).external_task_id;
	return {
		task_id: task.task_id,
		task_status: task.task_status,
		...(task.task_status_msg ? { task_status_msg: task.task_status_msg } : {}),
		external_task_id: externalTaskId,
		task_info: { external_task_id: externalTaskId },
		created_at: task.created_at,
		updated_at: task.updated_at,
		final_unit_deduction: task.final_unit_deduction,
		watermark_info: task.watermark_info,
		...(task.task_result ? { task_result: task.task_result } : {}),
		delivery_key: `${task.task_id as string}:${task.task_status as string}`,
	};
}

interface Delivery {
	body: IDataObject | string | Buffer;
	/** Standard Webhooks headers; `null` leaves a header out. */
	id?: string | null;
	timestamp?: number | string | null;
	signature?: string | null;
	/** Signs with this secret instead of the trigger's. */
	secret?: string;
	/** Sends these bytes instead of the ones signed. */
	tamper?: (raw: Buffer) => Buffer;
	headers?: Record<string, string>;
	query?: string;
	contentType?: string;
}

let deliveryCount = 0;
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** POSTs one callback to the trigger over real HTTP, signed the Standard Webhooks way unless told otherwise. */
async function deliver(
	server: WebhookServer,
	delivery: Delivery,
): Promise<{ status: number; body: IDataObject }> {
	const raw = Buffer.isBuffer(delivery.body)
		? delivery.body
		: Buffer.from(
				typeof delivery.body === 'string' ? delivery.body : JSON.stringify(delivery.body),
			);
	const id = delivery.id === undefined ? `msg_${++deliveryCount}_${Date.now()}` : delivery.id;
	const timestamp = delivery.timestamp === undefined ? nowSeconds() : delivery.timestamp;
	const signature =
		delivery.signature === undefined
			? signStandardWebhook(
					delivery.secret ?? SECRET,
					String(id),
					String(timestamp),
					raw.toString('utf8'),
				)
			: delivery.signature;
	const headers: Record<string, string> = {
		'content-type': delivery.contentType ?? 'application/json',
		...delivery.headers,
	};
	if (id !== null) headers['webhook-id'] = id;
	if (timestamp !== null) headers['webhook-timestamp'] = String(timestamp);
	if (signature !== null) headers['webhook-signature'] = signature;
	const response = await fetch(server.url + (delivery.query ?? ''), {
		method: 'POST',
		headers,
		body: delivery.tamper ? delivery.tamper(raw) : raw,
		// Kling's own timeout is undocumented; an answer that takes this long counts as none.
		signal: AbortSignal.timeout(5000),
	});
	const text = await response.text();
	return { status: response.status, body: text ? (JSON.parse(text) as IDataObject) : {} };
}

/** Log lines written from now on. */
function logsFromNow(): () => string[] {
	const start = capturedLogs.length;
	return () => capturedLogs.slice(start);
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('Timed out waiting for a condition');
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

const outputOf = (server: WebhookServer): INodeExecutionData[][] =>
	server.runs.map((run) => run.output(TRIGGER_NODE));
const statusesOf = (server: WebhookServer) =>
	outputOf(server).map(
		(items) => `${items[0].json.task_id as string}:${items[0].json.task_status as string}`,
	);

describe('signed callbacks', () => {
	it('verifies a signed callback and starts exactly one run whose output is the normalised task', async () => {
		const server = await serve();
		const task = klingTask('succeed');
		const answer = await deliver(server, { body: task });
		expect(answer).toEqual({ status: 200, body: { message: 'Workflow was started' } });
		await server.settled();
		expect(server.runs).toHaveLength(1);
		expect(server.runs[0].error).toBeUndefined();
		expect(server.runs[0].run.mode).toBe('webhook');
		const [item, ...rest] = server.runs[0].output(TRIGGER_NODE);
		expect(rest).toHaveLength(0);
		expect(item.json).toEqual(normalised(task));
		expect(item.binary).toBeUndefined();
	});

	it('checks the signature against the raw bytes received, not re-serialised JSON', async () => {
		const server = await serve();
		const task = klingTask('failed', { task_status_msg: 'Inhalt abgelehnt: “Sicherheit” ✓' });
		const raw = Buffer.from(JSON.stringify(task, null, 2).replace(/,\n/g, ' ,\r\n'));
		expect(raw.equals(Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8')))))).toBe(false);
		expect((await deliver(server, { body: raw })).status).toBe(200);
		await server.settled();
		expect(outputOf(server)).toEqual([[expect.objectContaining({ json: normalised(task) })]]);
	});

	it('reads a task wrapped in the API envelope ({ code, message, data }) as well', async () => {
		const server = await serve();
		const task = klingTask('failed');
		await deliver(server, { body: { code: 0, message: 'SUCCEED', request_id: 'r-1', data: task } });
		await server.settled();
		expect(outputOf(server)).toEqual([[expect.objectContaining({ json: normalised(task) })]]);
	});

	it('accepts a multi-signature header (key rotation) where only the second signature matches', async () => {
		const server = await serve();
		const task = klingTask();
		const raw = JSON.stringify(task);
		const id = 'msg_rotation';
		const timestamp = nowSeconds();
		const retired = 'whsec_' + Buffer.from('a-retired-signing-secret-32bytes').toString('base64');
		const signature = `${signStandardWebhook(retired, id, timestamp, raw)} ${signStandardWebhook(SECRET, id, timestamp, raw)}`;
		expect((await deliver(server, { body: raw, id, timestamp, signature })).status).toBe(200);
		await server.settled();
		expect(statusesOf(server)).toEqual([`${task.task_id as string}:succeed`]);
	});

	it.each<[string, (task: IDataObject) => Partial<Delivery>, RegExp]>([
		[
			'a flipped body byte',
			() => ({
				tamper: (raw) => Buffer.from(raw.toString('utf8').replace('"succeed"', '"succeee"')),
			}),
			/no signature in webhook-signature matches the body/,
		],
		[
			'a flipped byte in the image URL',
			() => ({
				tamper: (raw) => Buffer.from(raw.toString('utf8').replace('cdn.example', 'cdn.exbmple')),
			}),
			/no signature in webhook-signature matches/,
		],
		[
			'a wrong secret',
			() => ({
				secret: 'whsec_' + Buffer.from('not-the-secret-of-this-account!!').toString('base64'),
			}),
			/no signature in webhook-signature matches/,
		],
		[
			'no webhook-id header',
			() => ({ id: null, signature: signStandardWebhook(SECRET, '', nowSeconds(), '{}') }),
			/header is missing/,
		],
		['no webhook-timestamp header', () => ({ timestamp: null }), /header is missing/],
		['no webhook-signature header', () => ({ signature: null }), /header is missing/],
		[
			'a timestamp 301 s in the past',
			() => ({ timestamp: nowSeconds() - 301 }),
			/more than 5 minutes away/,
		],
		[
			'a timestamp 310 s in the future',
			() => ({ timestamp: nowSeconds() + 310 }),
			/more than 5 minutes away/,
		],
		[
			'a signature under another version',
			() => ({ signature: 'v2,' + signStandardWebhook(SECRET, 'x', 1, '{}').slice(3) }),
			/no signature in webhook-signature matches/,
		],
	])('refuses %s with 401, starts no run, and logs why', async (_case, change, reason) => {
		const server = await serve();
		const logs = logsFromNow();
		const answer = await deliver(server, { body: klingTask(), ...change(klingTask()) });
		expect(answer.status).toBe(401);
		expect(answer.body.error).toMatch(reason);
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(server.failures).toEqual([]);
		expect(logs()).toEqual([
			expect.stringMatching(
				new RegExp(
					`^warn Kling Expand Trigger refused a callback \\(HTTP 401\\): signature check failed: .*${reason.source}`,
				),
			),
		]);
	});

	it.each([290, -290])('accepts a timestamp %i s away', async (offset) => {
		const server = await serve();
		const task = klingTask();
		expect((await deliver(server, { body: task, timestamp: nowSeconds() + offset })).status).toBe(
			200,
		);
		await server.settled();
		expect(statusesOf(server)).toEqual([`${task.task_id as string}:succeed`]);
	});

	it('refuses every callback when the credential has no signing secret, instead of trusting it', async () => {
		const server = await serve({}, { klingApi: { webhookSecret: '' } });
		const answer = await deliver(server, { body: klingTask() });
		expect(answer).toEqual({
			status: 401,
			body: {
				error:
					'signature check failed: no callback signing secret is set in the Kling API credential',
			},
		});
		await server.settled();
		expect(server.runs).toHaveLength(0);
	});
});

describe('statuses', () => {
	it('acknowledges statuses that are not selected with 200 and starts nothing', async () => {
		const server = await serve();
		const task = klingTask('submitted');
		for (const status of ['submitted', 'processing'] as const) {
			const answer = await deliver(server, { body: { ...task, task_status: status } });
			expect(answer).toEqual({
				status: 200,
				body: { received: true, started: false, reason: 'status not selected' },
			});
		}
		await server.settled();
		expect(server.runs).toHaveLength(0);
		// Ignoring them remembered nothing: the terminal delivery of the same task still starts its run.
		await deliver(server, { body: { ...task, task_status: 'succeed' } });
		await server.settled();
		expect(statusesOf(server)).toEqual([`${task.task_id as string}:succeed`]);
	});

	it('starts a run for each selected status', async () => {
		const server = await serve({ statuses: ['processing', 'failed'] });
		const task = klingTask('submitted');
		for (const status of ['submitted', 'processing', 'failed'])
			await deliver(server, { body: { ...task, task_status: status } });
		await server.settled();
		expect(statusesOf(server)).toEqual([
			`${task.task_id as string}:processing`,
			`${task.task_id as string}:failed`,
		]);
	});
});

describe('duplicates and order', () => {
	it('starts one run when the same delivery (same webhook-id) arrives twice', async () => {
		const server = await serve();
		const task = klingTask();
		const raw = JSON.stringify(task);
		const timestamp = nowSeconds();
		const delivery = {
			body: raw,
			id: 'msg_same',
			timestamp,
			signature: signStandardWebhook(SECRET, 'msg_same', timestamp, raw),
		};
		expect((await deliver(server, delivery)).status).toBe(200);
		expect(await deliver(server, delivery)).toEqual({
			status: 200,
			body: { received: true, started: false, reason: 'duplicate' },
		});
		await server.settled();
		expect(server.runs).toHaveLength(1);
	});

	it('starts one run when the same task and status arrive again under a new webhook-id', async () => {
		const server = await serve();
		const task = klingTask();
		await deliver(server, { body: task, id: 'msg_first' });
		expect((await deliver(server, { body: task, id: 'msg_second' })).body).toEqual({
			received: true,
			started: false,
			reason: 'duplicate',
		});
		await server.settled();
		expect(server.runs).toHaveLength(1);
	});

	it('starts one run when the same delivery arrives several times at once', async () => {
		const server = await serve();
		const task = klingTask();
		const answers = await Promise.all(
			[1, 2, 3, 4, 5].map(async () => await deliver(server, { body: task, id: 'msg_burst' })),
		);
		expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
		await server.settled();
		expect(server.runs).toHaveLength(1);
	});

	it('starts at most one run per task and status when deliveries arrive out of order', async () => {
		const server = await serve({ statuses: ['submitted', 'processing', 'succeed', 'failed'] });
		const task = klingTask('submitted');
		const id = task.task_id as string;
		for (const status of ['submitted', 'succeed', 'processing', 'submitted', 'succeed'])
			await deliver(server, { body: { ...task, task_status: status } });
		await server.settled();
		// The late "processing" is stale once the task has ended; the repeats are duplicates.
		expect(statusesOf(server)).toEqual([`${id}:submitted`, `${id}:succeed`]);
	});

	it('does not mistake another task with the same status for a duplicate', async () => {
		const server = await serve();
		const first = klingTask();
		const second = klingTask();
		await deliver(server, { body: first });
		await deliver(server, { body: second });
		await server.settled();
		expect(statusesOf(server).sort()).toEqual(
			[`${first.task_id as string}:succeed`, `${second.task_id as string}:succeed`].sort(),
		);
	});

	it('remembers deliveries in the workflow’s static data, so a repeat after a restart of n8n starts nothing', async () => {
		const server = await serve();
		const task = klingTask();
		await deliver(server, { body: task, id: 'msg_kept' });
		await server.settled();
		const saved = server.savedStaticData();
		expect(saved[`node:${TRIGGER_NODE}`]).toEqual({
			seenDeliveries: [`${task.task_id as string}:succeed`],
		});

		// Another node id: nothing this process remembers applies, only the saved static data.
		const restarted = await serve({}, CREDENTIALS, {}, { staticData: saved });
		expect((await deliver(restarted, { body: task, id: 'msg_kept_resent' })).body).toEqual({
			received: true,
			started: false,
			reason: 'duplicate',
		});
		const next = klingTask();
		expect((await deliver(restarted, { body: next })).status).toBe(200);
		await restarted.settled();
		expect(statusesOf(restarted)).toEqual([`${next.task_id as string}:succeed`]);
	});
});

describe('malformed deliveries', () => {
	it('answers 400 to a signed body that is not JSON, starts nothing, and logs why', async () => {
		const server = await serve();
		const logs = logsFromNow();
		const answer = await deliver(server, {
			body: '{"task_id": "t-1", "task_status": "succeed"',
			contentType: 'text/plain',
		});
		expect(answer).toEqual({ status: 400, body: { error: 'the body is not JSON' } });
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual([
			'warn Kling Expand Trigger refused a callback (HTTP 400): the body is not JSON {}',
		]);
	});

	it('leaves a body that claims JSON but is not to n8n, which answers 422 before the trigger runs', async () => {
		const server = await serve();
		const answer = await deliver(server, { body: '{"task_id": "t-1",' });
		expect(answer.status).toBe(422);
		expect(answer.body.message).toBe('Failed to parse request body');
		await server.settled();
		expect(server.runs).toHaveLength(0);
	});

	it.each<[string, string]>([
		['an empty object', '{}'],
		['a task without a status', '{"task_id":"t-1"}'],
		['a task without an id', '{"task_status":"succeed"}'],
		['an unknown status', '{"task_id":"t-1","task_status":"done"}'],
		['an id that is an object', '{"task_id":{"id":1},"task_status":"succeed"}'],
		['an array', '[]'],
		['a string', '"succeed"'],
		['null', 'null'],
		['a number', '42'],
	])('answers 400 to %s, which is not a task, and starts nothing', async (_case, body) => {
		const server = await serve();
		const logs = logsFromNow();
		const answer = await deliver(server, { body });
		expect(answer).toEqual({
			status: 400,
			body: { error: 'the body is not a Kling task (task_id and task_status are required)' },
		});
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual([
			expect.stringMatching(
				/^warn Kling Expand Trigger refused a callback \(HTTP 400\): the body is not a Kling task/,
			),
		]);
	});

	it('lets no __proto__ or constructor key of the callback pollute Object.prototype or reach the output', async () => {
		const server = await serve();
		const task = klingTask();
		const hostile = JSON.stringify(task)
			.replace(
				/^\{/,
				'{"__proto__":{"polluted":"yes","task_status_msg":"injected"},"constructor":{"prototype":{"polluted":"yes"}},',
			)
			.replace(
				'"task_info":{',
				'"task_info":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},',
			)
			.replace(
				'"watermark_info":{"enabled":false}',
				'"watermark_info":{"__proto__":{"enabled":true}}',
			)
			.replace(
				'"index":0,',
				'"index":0,"__proto__":{"watermark_url":"https://evil.example/x.png"},"constructor":{"name":"x"},',
			);
		expect(JSON.parse(hostile)).toHaveProperty('__proto__');
		expect(hostile).toContain('"watermark_info":{"__proto__"');

		expect((await deliver(server, { body: hostile })).status).toBe(200);
		await server.settled();
		expect(({} as IDataObject).polluted).toBeUndefined();
		expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
		const [item] = server.runs[0].output(TRIGGER_NODE);
		const { watermark_info: _, ...expected } = normalised(task);
		expect(item.json).toEqual(expected);
		const ownKeys = (value: unknown): string[] =>
			value !== null && typeof value === 'object'
				? Object.getOwnPropertyNames(value).flatMap((key) => [
						key,
						...ownKeys((value as IDataObject)[key]),
					])
				: [];
		expect(ownKeys(item.json)).not.toContain('__proto__');
		expect(ownKeys(item.json)).not.toContain('constructor');
		expect(JSON.stringify(item.json)).not.toMatch(/polluted|injected|evil/);
	});
});

describe('shared token (CometAPI style)', () => {
	const tokenOnly = { verification: 'token', sharedToken: TOKEN };
	const unsigned = { id: null, timestamp: null, signature: null } as const;

	it('starts a run when the token is in the URL', async () => {
		const server = await serve(tokenOnly, {});
		const task = klingTask();
		expect(
			(await deliver(server, { body: task, ...unsigned, query: `?token=${TOKEN}` })).status,
		).toBe(200);
		await server.settled();
		expect(outputOf(server)).toEqual([[expect.objectContaining({ json: normalised(task) })]]);
	});

	it('starts a run when the token is in the x-kling-token header', async () => {
		const server = await serve(tokenOnly, {});
		const task = klingTask();
		expect(
			(await deliver(server, { body: task, ...unsigned, headers: { 'x-kling-token': TOKEN } }))
				.status,
		).toBe(200);
		await server.settled();
		expect(server.runs).toHaveLength(1);
	});

	it.each<[string, Partial<Delivery>]>([
		['no token', {}],
		['a wrong token in the URL', { query: `?token=${TOKEN}x` }],
		['a wrong token in the header', { headers: { 'x-kling-token': TOKEN.slice(0, -1) } }],
		['an empty token', { query: '?token=' }],
		['the token in another query parameter', { query: `?secret=${TOKEN}` }],
	])('refuses %s with 401 and starts nothing', async (_case, change) => {
		const server = await serve(tokenOnly, {});
		const logs = logsFromNow();
		const answer = await deliver(server, { body: klingTask(), ...unsigned, ...change });
		expect(answer).toEqual({
			status: 401,
			body: { error: 'the shared token is missing or wrong' },
		});
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual([
			'warn Kling Expand Trigger refused a callback (HTTP 401): the shared token is missing or wrong {}',
		]);
	});

	it('requires both the token and the signature when both are on (version 1)', async () => {
		const server = await serve({ sharedToken: TOKEN }, CREDENTIALS, { typeVersion: 1 });
		expect(
			(await deliver(server, { body: klingTask(), signature: null, query: `?token=${TOKEN}` }))
				.status,
		).toBe(401);
		expect((await deliver(server, { body: klingTask() })).status).toBe(401);
		const task = klingTask();
		expect((await deliver(server, { body: task, query: `?token=${TOKEN}` })).status).toBe(200);
		await server.settled();
		expect(statusesOf(server)).toEqual([`${task.task_id as string}:succeed`]);
	});
});

describe('logs', () => {
	it('shows every refusal with its status and reason, and never a secret, token or signature', async () => {
		const server = await serve({ sharedToken: TOKEN }, CREDENTIALS, { typeVersion: 1 });
		const logs = logsFromNow();
		const raw = JSON.stringify(klingTask());
		const timestamp = nowSeconds();
		const signature = signStandardWebhook(SECRET, 'msg_log', timestamp, raw);
		await deliver(server, { body: raw, query: '?token=wrong-token-guess' });
		await deliver(server, {
			body: raw,
			id: 'msg_log',
			timestamp,
			signature,
			tamper: (bytes) => Buffer.concat([bytes, Buffer.from(' ')]),
			query: `?token=${TOKEN}`,
		});
		await deliver(server, {
			body: raw,
			id: 'msg_log',
			timestamp: timestamp - 400,
			signature,
			query: `?token=${TOKEN}`,
		});
		await deliver(server, {
			body: 'not json',
			contentType: 'text/plain',
			query: `?token=${TOKEN}`,
		});
		await server.settled();
		const lines = logs();
		expect(
			lines.filter((line) => line.startsWith('warn Kling Expand Trigger refused a callback')),
		).toEqual([
			'warn Kling Expand Trigger refused a callback (HTTP 401): the shared token is missing or wrong {}',
			'warn Kling Expand Trigger refused a callback (HTTP 401): signature check failed: no signature in webhook-signature matches the body {}',
			'warn Kling Expand Trigger refused a callback (HTTP 401): signature check failed: webhook-timestamp is more than 5 minutes away from now {}',
			'warn Kling Expand Trigger refused a callback (HTTP 400): the body is not JSON {}',
		]);
		const secrets = [
			SECRET,
			SECRET.slice('whsec_'.length),
			Buffer.from(SECRET.slice('whsec_'.length), 'base64').toString('hex'),
			TOKEN,
			'wrong-token-guess',
			signature.slice(3),
		];
		for (const line of capturedLogs)
			for (const secret of secrets) expect(line).not.toContain(secret);
	});
});

/** An image host that holds its answer until released, to see what the trigger does meanwhile. */
async function heldImageHost(image: Buffer) {
	let release: () => void = () => {};
	const released = new Promise<void>((resolve) => (release = resolve));
	let requests = 0;
	const server = createServer((_req, res) => {
		requests++;
		void released.then(() =>
			res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(image),
		);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/result.png`,
		requests: () => requests,
		release,
		close: async () => {
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

describe('download images', () => {
	it('answers 200 before downloading, then outputs the task with the image as binary', async () => {
		const image = await sharp({
			create: { width: 640, height: 360, channels: 3, background: '#3a7' },
		})
			.png()
			.toBuffer();
		const host = await heldImageHost(image);
		try {
			const server = await serve({ downloadImages: true });
			const task = klingTask('succeed', {});
			task.task_result = { images: [{ index: 0, url: host.url }] };
			const answer = await deliver(server, { body: task });
			expect(answer).toEqual({ status: 200, body: { received: true, started: true } });
			await waitFor(() => host.requests() === 1);
			expect(server.runs).toHaveLength(0);

			host.release();
			const [run] = await server.waitForRuns(1);
			expect(server.runs).toHaveLength(1);
			const [item, ...rest] = run.output(TRIGGER_NODE);
			expect(rest).toHaveLength(0);
			const fileName = `${task.task_id as string}_0.png`;
			expect(item.json).toEqual({
				...normalised(task),
				image: {
					index: 0,
					url: host.url,
					width: 640,
					height: 360,
					file_name: fileName,
					mime_type: 'image/png',
				},
			});
			expect(item.binary?.data).toMatchObject({ fileName, mimeType: 'image/png' });
			const bytes = Buffer.from(item.binary!.data.data, 'base64');
			expect(bytes.equals(image)).toBe(true);
			expect(await sharp(bytes).metadata()).toMatchObject({
				width: 640,
				height: 360,
				format: 'png',
			});
		} finally {
			host.release();
			await host.close();
		}
	});

	it('starts one run, one download, when a duplicate arrives while the first download is under way', async () => {
		const image = await testImage(400, 300);
		const host = await heldImageHost(image);
		try {
			const server = await serve({ downloadImages: true });
			const task = klingTask();
			task.task_result = { images: [{ index: 0, url: host.url }] };
			expect((await deliver(server, { body: task, id: 'msg_slow' })).status).toBe(200);
			await waitFor(() => host.requests() === 1);
			// Kling resends (same id, or a new one) while the image is still downloading.
			expect((await deliver(server, { body: task, id: 'msg_slow' })).body).toEqual({
				received: true,
				started: false,
				reason: 'duplicate',
			});
			expect((await deliver(server, { body: task, id: 'msg_slow_again' })).body).toEqual({
				received: true,
				started: false,
				reason: 'duplicate',
			});
			host.release();
			await server.waitForRuns(1);
			await server.settled();
			expect(server.runs).toHaveLength(1);
			expect(host.requests()).toBe(1);
		} finally {
			host.release();
			await host.close();
		}
	});

	it('still starts the run when the download fails, with the reason on the task, since Kling will not deliver again', async () => {
		const host = createServer((_req, res) => res.writeHead(404).end('expired'));
		await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
		try {
			const url = `http://127.0.0.1:${(host.address() as AddressInfo).port}/gone.png`;
			const server = await serve({ downloadImages: true });
			const task = klingTask();
			task.task_result = { images: [{ index: 0, url }] };
			expect((await deliver(server, { body: task, id: 'msg_expired' })).body).toEqual({
				received: true,
				started: true,
			});
			const [run] = await server.waitForRuns(1);
			expect(run.output(TRIGGER_NODE)[0].json).toMatchObject({
				task_id: task.task_id,
				download_error:
					`Kling task ${task.task_id as string} succeeded and was billed, but its result image ` +
					`is gone: Downloading ${url} answered HTTP 404. Kling deletes result images 30 days ` +
					'after the task',
			});
			expect(run.output(TRIGGER_NODE)[0].binary).toBeUndefined();
			expect(
				capturedLogs.some((line) =>
					line.includes(`could not download the images of task ${task.task_id}`),
				),
			).toBe(true);

			// The same delivery again is a duplicate: the task's run already happened.
			expect((await deliver(server, { body: task, id: 'msg_expired' })).body).toMatchObject({
				started: false,
				reason: 'duplicate',
			});
			await server.settled();
			expect(server.runs).toHaveLength(1);
		} finally {
			host.closeAllConnections();
			await new Promise<void>((resolve) => host.close(() => resolve()));
		}
	});

	it('outputs a failed task without downloading anything', async () => {
		const server = await serve({ downloadImages: true });
		const task = klingTask('failed');
		expect((await deliver(server, { body: task })).body).toEqual({
			message: 'Workflow was started',
		});
		await server.settled();
		expect(outputOf(server)).toEqual([[expect.objectContaining({ json: normalised(task) })]]);
		expect(server.runs[0].output(TRIGGER_NODE)[0].binary).toBeUndefined();
	});
});

describe.each<[CallbackMode, Array<[TaskStatus, number]>]>([
	[
		'normal',
		[
			['submitted', 200],
			['processing', 200],
			['succeed', 200],
		],
	],
	[
		'duplicate',
		[
			['submitted', 200],
			['submitted', 200],
			['processing', 200],
			['processing', 200],
			['succeed', 200],
			['succeed', 200],
		],
	],
	[
		'outOfOrder',
		[
			['submitted', 200],
			['succeed', 200],
			['processing', 200],
		],
	],
])('end to end with %s callbacks', (callbackMode, expectedDeliveries) => {
	const simulator = useSimulator({
		webhookSecret: SIMULATOR_DEFAULT_KEYS.webhookSecret,
		callbackMode,
	});

	it('submits with the trigger’s URL as callback_url and gets one run with the finished task and its expanded image', async () => {
		const sim = simulator();
		const credentials = simulatorCredentials(sim.url);
		const server = await serve({ downloadImages: true }, credentials);

		const submitted = await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'binary',
				expansionMode: 'ratios',
				upExpansionRatio: 0.25,
				downExpansionRatio: 0.5,
				leftExpansionRatio: 0.1,
				rightExpansionRatio: 0,
				options: { callbackUrl: server.url },
			}),
			{ startNode: EXPAND_NODE, input: [binaryItem(await testImage(400, 300))], credentials },
		);
		expect(submitted.error).toBeUndefined();
		const task = submitted.output(EXPAND_NODE)[0].json;
		expect((sim.tasks.get(task.task_id as string)?.createBody as IDataObject).callback_url).toBe(
			server.url,
		);

		await waitFor(() => sim.callbackDeliveries.length === expectedDeliveries.length);
		await server.settled();
		expect(
			sim.callbackDeliveries.map((delivery) => [delivery.body.task_status, delivery.status]),
		).toEqual(expectedDeliveries);
		expect(
			sim.callbackDeliveries.every((delivery) =>
				delivery.headers['webhook-signature']?.startsWith('v1,'),
			),
		).toBe(true);

		expect(server.failures).toEqual([]);
		expect(server.runs).toHaveLength(1);
		const [item, ...rest] = server.runs[0].output(TRIGGER_NODE);
		expect(rest).toHaveLength(0);
		const expansion = task.expansion as { expected_width: number; expected_height: number };
		expect(expansion).toMatchObject({ expected_width: 440, expected_height: 525 });
		expect(sim.tasks.get(task.task_id as string)?.resultImageSize).toEqual({
			width: 440,
			height: 525,
		});
		expect(item.json).toMatchObject({
			task_id: task.task_id,
			task_status: 'succeed',
			external_task_id: task.external_task_id,
			task_result: { images: [{ index: 0, url: expect.stringContaining(sim.url) }] },
			image: { index: 0, width: 440, height: 525, mime_type: 'image/png' },
		});
		const bytes = Buffer.from(item.binary!.data.data, 'base64');
		expect(await sharp(bytes).metadata()).toMatchObject({ width: 440, height: 525, format: 'png' });

		// Downstream nodes cannot tell which path produced it: Get Task outputs the very same item, less the trigger's delivery_key.
		const fetched = await runWorkflow(
			expandWorkflow({
				operation: 'getTask',
				taskId: task.task_id as string,
				downloadImages: true,
			}),
			{
				startNode: EXPAND_NODE,
				input: [{ json: {} }],
				credentials,
			},
		);
		const [viaGetTask] = fetched.output(EXPAND_NODE);
		const { delivery_key: deliveryKey, ...taskFields } = item.json;
		expect(deliveryKey).toBe(`${task.task_id as string}:succeed`);
		expect(taskFields).toEqual(viaGetTask.json);
		expect(Buffer.from(viaGetTask.binary!.data.data, 'base64').equals(bytes)).toBe(true);
	});
});

describe('verification is a choice, closed unless the user opens it', () => {
	const unsigned = { id: null, timestamp: null, signature: null } as const;

	it('checks the signature on a new trigger (version 2) unless told otherwise: an unsigned callback is refused', async () => {
		const server = await serve({});
		const answer = await deliver(server, { body: klingTask(), ...unsigned });
		expect(answer).toEqual({
			status: 401,
			body: {
				error:
					'signature check failed: the webhook-id, webhook-timestamp or webhook-signature header is missing',
			},
		});
		await server.settled();
		expect(server.runs).toHaveLength(0);
	});

	it('refuses with 401 when the signature is to be checked but no credential is selected', async () => {
		const server = await serve({ verification: 'signature' }, {});
		const logs = logsFromNow();
		expect(await deliver(server, { body: klingTask() })).toEqual({
			status: 401,
			body: { error: 'signature check failed: no Kling API credential is selected on the trigger' },
		});
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(server.failures).toEqual([]);
		expect(logs()).toEqual([
			expect.stringMatching(
				/^warn Kling Expand Trigger refused a callback \(HTTP 401\): signature check failed: no Kling API credential/,
			),
		]);
	});

	it('accepts an unsigned, tokenless callback only under Verification: None, chosen explicitly', async () => {
		const open = await serve({ verification: 'none' }, {});
		const task = klingTask();
		expect(await deliver(open, { body: task, ...unsigned })).toEqual({
			status: 200,
			body: { message: 'Workflow was started' },
		});
		await open.settled();
		expect(outputOf(open)).toEqual([[expect.objectContaining({ json: normalised(task) })]]);

		for (const closed of [
			await serve({}),
			await serve({ verification: 'token', sharedToken: TOKEN }, {}),
			await serve({}, CREDENTIALS, { typeVersion: 1 }),
		]) {
			expect((await deliver(closed, { body: klingTask(), ...unsigned })).status).toBe(401);
			await closed.settled();
			expect(closed.runs).toHaveLength(0);
		}
	});

	it('refuses every callback with 401 when Shared Token is chosen but empty, and says why in the log', async () => {
		const server = await serve({ verification: 'token', sharedToken: '' }, {});
		const logs = logsFromNow();
		for (const query of ['', '?token=']) {
			const answer = await deliver(server, { body: klingTask(), ...unsigned, query });
			expect(answer).toEqual({
				status: 401,
				body: {
					error: expect.stringMatching(
						/^Verification is Shared Token, but the Shared Token is empty/,
					),
				},
			});
		}
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual(
			Array(2).fill(
				expect.stringMatching(
					/^warn Kling Expand Trigger refused a callback \(HTTP 401\): Verification is Shared Token, but the Shared Token is empty/,
				),
			),
		);
	});

	it('refuses every callback to a version-1 trigger whose signature check is off with no Shared Token (no check was ever chosen), and says why', async () => {
		const server = await serve({ verifySignature: false }, {}, { typeVersion: 1 });
		const logs = logsFromNow();
		const answer = await deliver(server, { body: klingTask(), ...unsigned });
		expect(answer.status).toBe(401);
		expect(answer.body.error).toMatch(
			/^Verify Kling Signature is off and no Shared Token is set, so nothing proves a callback comes from Kling/,
		);
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual([expect.stringContaining('choose Verification: None explicitly')]);
	});

	it('keeps version-1 triggers that had a check working: the signature (the default), or the token with the signature off', async () => {
		const signed = await serve({}, CREDENTIALS, { typeVersion: 1 });
		const first = klingTask();
		expect((await deliver(signed, { body: first })).status).toBe(200);
		const tokened = await serve(
			{ verifySignature: false, sharedToken: TOKEN },
			{},
			{ typeVersion: 1 },
		);
		const second = klingTask();
		expect(
			(await deliver(tokened, { body: second, ...unsigned, query: `?token=${TOKEN}` })).status,
		).toBe(200);
		expect((await deliver(tokened, { body: klingTask(), ...unsigned })).status).toBe(401);
		await Promise.all([signed.settled(), tokened.settled()]);
		expect([...statusesOf(signed), ...statusesOf(tokened)]).toEqual([
			`${first.task_id as string}:succeed`,
			`${second.task_id as string}:succeed`,
		]);
	});

	it('refuses an unknown Verification value (e.g. from an expression) rather than guessing', async () => {
		const server = await serve({ verification: 'off' }, {});
		expect(await deliver(server, { body: klingTask(), ...unsigned })).toEqual({
			status: 401,
			body: {
				error: 'Verification is "off"; choose Standard Webhooks Signature, Shared Token or None',
			},
		});
	});
});

describe('publishing (the webhook lifecycle n8n runs on activation)', () => {
	const publish = async (
		parameters: INodeParameters,
		credentials: Record<string, ICredentialDataDecryptedObject> = CREDENTIALS,
		node: Partial<INode> = {},
	) =>
		await activateTrigger(
			triggerWorkflow(parameters, { typeVersion: 2, ...node }),
			TRIGGER_NODE,
			credentials,
		);

	it('refuses a signature check whose credential has no Callback Signing Secret, naming the secret and where to put it', async () => {
		await expect(publish({}, { klingApi: { webhookSecret: '' } })).rejects.toThrow(
			"Kling Expand Trigger: Verification is Standard Webhooks Signature, but the Kling API credential has no Callback Signing Secret: paste the whsec_… secret from the Kling console into the credential's Callback Signing Secret field, or choose Verification: Shared Token",
		);
	});

	it('refuses a signature check with no credential selected, and an empty Shared Token', async () => {
		await expect(publish({ verification: 'signature' }, {}, { credentials: {} })).rejects.toThrow(
			/no Kling API credential is selected/,
		);
		await expect(publish({ verification: 'token', sharedToken: '' }, {})).rejects.toThrow(
			/the Shared Token is empty/,
		);
		await expect(
			publish({ verifySignature: false, sharedToken: '' }, {}, { typeVersion: 1 }),
		).rejects.toThrow(/Verify Kling Signature is off and no Shared Token is set/);
	});

	it('publishes a trigger that can verify: a signing secret, a token, or None chosen explicitly', async () => {
		await expect(publish({})).resolves.toBeUndefined();
		await expect(
			publish({ verification: 'token', sharedToken: TOKEN }, {}),
		).resolves.toBeUndefined();
		await expect(publish({ verification: 'none' }, {})).resolves.toBeUndefined();
		await expect(publish({}, CREDENTIALS, { typeVersion: 1 })).resolves.toBeUndefined();
	});
});

describe('in the editor', () => {
	const nodeFor = async (typeVersion: number, parameters: INodeParameters) => {
		const { nodeTypes } = await loadPackage();
		const description = nodeTypes.getByNameAndVersion(NODE_TYPES.trigger, typeVersion).description;
		const node: INode = {
			id: 'n',
			name: TRIGGER_NODE,
			type: NODE_TYPES.trigger,
			typeVersion,
			position: [0, 0],
			parameters: {},
		};
		node.parameters =
			NodeHelpers.getNodeParameters(
				description.properties,
				parameters,
				true,
				false,
				node,
				description,
			) ?? {};
		const shown = (property: INodeProperties) =>
			NodeHelpers.displayParameter(node.parameters, property, node, description);
		return {
			notices: description.properties
				.filter((property) => property.type === 'notice' && shown(property))
				.map((property) => property.name),
			credentialRequired: (description.credentials ?? []).some(
				(credential) =>
					credential.required &&
					NodeHelpers.displayParameter(node.parameters, credential, node, description),
			),
			issues: Object.keys(
				NodeHelpers.getNodeParametersIssues(description.properties, node, description)
					?.parameters ?? {},
			),
			shownFields: description.properties
				.filter((property) => property.type !== 'notice' && shown(property))
				.map((property) => property.name),
		};
	};

	it('offers version 2 by default, with Verification a required choice that defaults to the signature', async () => {
		const { nodeTypes } = await loadPackage();
		const description = nodeTypes.getByNameAndVersion(NODE_TYPES.trigger, 2).description;
		expect(description.version).toEqual([1, 2]);
		expect(description.defaultVersion).toBe(2);
		const verification = description.properties.find(
			(property) => property.name === 'verification',
		);
		expect(verification).toMatchObject({ type: 'options', required: true, default: 'signature' });
		expect(verification?.options?.map((option) => (option as { name: string }).name)).toEqual([
			'Standard Webhooks Signature',
			'Shared Token',
			'None (Anyone Who Knows the URL Can Start This Workflow)',
		]);
	});

	it.each<[string, number, INodeParameters, Partial<Awaited<ReturnType<typeof nodeFor>>>]>([
		[
			'signature (default)',
			2,
			{},
			{ notices: ['notice', 'signatureNotice'], credentialRequired: true, issues: [] },
		],
		[
			'Shared Token, empty',
			2,
			{ verification: 'token' },
			{ notices: ['notice'], credentialRequired: false, issues: ['sharedToken'] },
		],
		[
			'Shared Token, set',
			2,
			{ verification: 'token', sharedToken: TOKEN },
			{ notices: ['notice'], credentialRequired: false, issues: [] },
		],
		[
			'None: a warning',
			2,
			{ verification: 'none' },
			{ notices: ['notice', 'unverifiedNotice'], credentialRequired: false, issues: [] },
		],
		[
			'version 1, signature on',
			1,
			{},
			{ notices: ['notice'], credentialRequired: true, issues: [] },
		],
		[
			'version 1, signature off, no token: says every callback is refused',
			1,
			{ verifySignature: false },
			{ notices: ['notice', 'noCheckNotice'], credentialRequired: false },
		],
		[
			'version 1, signature off, token set',
			1,
			{ verifySignature: false, sharedToken: TOKEN },
			{ notices: ['notice'], credentialRequired: false },
		],
	])(
		'shows, for %s, the notices, whether the credential is required, and the parameter issues',
		async (_case, version, parameters, expected) => {
			expect(await nodeFor(version, parameters)).toMatchObject(expected);
		},
	);

	it('shows Download Only From Hosts (default *.klingai.com) only for unverified triggers that download', async () => {
		expect(
			(await nodeFor(2, { verification: 'none', downloadImages: true })).shownFields,
		).toContain('downloadHosts');
		for (const [version, parameters] of [
			[2, { verification: 'none' }],
			[2, { downloadImages: true }],
			[1, { downloadImages: true }],
		] as const) {
			expect((await nodeFor(version, parameters)).shownFields).not.toContain('downloadHosts');
		}
		const { nodeTypes } = await loadPackage();
		expect(
			nodeTypes
				.getByNameAndVersion(NODE_TYPES.trigger, 2)
				.description.properties.find((property) => property.name === 'downloadHosts')?.default,
		).toBe('*.klingai.com');
	});
});

/** A server on 127.0.0.1 standing in for an internal address; it counts the requests it gets. */
async function countingHost(image?: Buffer) {
	let requests = 0;
	const server = createServer((_req, res) => {
		requests++;
		res.writeHead(200, { 'content-type': 'image/png' }).end(image ?? 'internal admin page');
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const port = (server.address() as AddressInfo).port;
	return {
		port,
		url: `http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/`,
		requests: () => requests,
		close: async () => {
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

describe('unverified callbacks never make n8n download', () => {
	const unsigned = { id: null, timestamp: null, signature: null } as const;

	it('downloads nothing for a forged callback under None that names an internal (loopback) URL not on the list', async () => {
		const internal = await countingHost();
		try {
			const server = await serve({ verification: 'none', downloadImages: true }, {});
			const logs = logsFromNow();
			const task = klingTask('succeed', {
				task_result: { images: [{ index: 0, url: internal.url }] },
			});
			expect((await deliver(server, { body: task, ...unsigned })).status).toBe(200);
			await server.settled();
			expect(internal.requests()).toBe(0);
			const [item, ...rest] = server.runs[0].output(TRIGGER_NODE);
			expect(rest).toHaveLength(0);
			expect(item.binary).toBeUndefined();
			const reason = `not downloaded: the callback is unverified (Verification: None) and http://127.0.0.1:${internal.port} is not in Download Only From Hosts`;
			expect(item.json).toEqual({ ...normalised(task), download_error: reason });
			expect(logs()).toEqual([
				`warn Kling Expand Trigger did not download the images of task ${task.task_id as string}: ${reason} {}`,
			]);
		} finally {
			await internal.close();
		}
	});

	it('downloads nothing when only some of the images are on the list, nor from the listed host on another port', async () => {
		const internal = await countingHost();
		try {
			const server = await serve(
				{
					verification: 'none',
					downloadImages: true,
					downloadHosts: `*.klingai.com, 127.0.0.1:${internal.port + 1}`,
				},
				{},
			);
			const task = klingTask('succeed', {
				task_result: {
					images: [
						{ index: 0, url: 'https://p1-kling.klingai.com/x.png' },
						{ index: 1, url: internal.url },
					],
				},
			});
			await deliver(server, { body: task, ...unsigned });
			await server.settled();
			expect(internal.requests()).toBe(0);
			expect(server.runs[0].output(TRIGGER_NODE)[0].json.download_error).toMatch(
				/http:\/\/127\.0\.0\.1:\d+ is not in Download Only From Hosts/,
			);
		} finally {
			await internal.close();
		}
	});

	it('does not follow a redirect from a listed host to one that is not listed', async () => {
		const internal = await countingHost();
		const listed = createServer((_req, res) =>
			res.writeHead(302, { location: internal.url }).end(),
		);
		await new Promise<void>((resolve) => listed.listen(0, '127.0.0.1', resolve));
		const listedPort = (listed.address() as AddressInfo).port;
		try {
			const server = await serve(
				{ verification: 'none', downloadImages: true, downloadHosts: `127.0.0.1:${listedPort}` },
				{},
			);
			const task = klingTask('succeed', {
				task_result: { images: [{ index: 0, url: `http://127.0.0.1:${listedPort}/result.png` }] },
			});
			await deliver(server, { body: task, ...unsigned });
			const [run] = await server.waitForRuns(1);
			expect(internal.requests()).toBe(0);
			expect(run.output(TRIGGER_NODE)[0].json.download_error).toMatch(
				/HTTP 302, a redirect, which was not followed/,
			);
		} finally {
			listed.closeAllConnections();
			await new Promise<void>((resolve) => listed.close(() => resolve()));
			await internal.close();
		}
	});

	it('downloads from a host the user added to the list (here the stand-in result host on 127.0.0.1)', async () => {
		const image = await testImage(400, 300);
		const results = await countingHost(image);
		try {
			const server = await serve(
				{
					verification: 'none',
					downloadImages: true,
					downloadHosts: `*.klingai.com, 127.0.0.1:${results.port}`,
				},
				{},
			);
			const task = klingTask('succeed', {
				task_result: { images: [{ index: 0, url: results.url }] },
			});
			expect((await deliver(server, { body: task, ...unsigned })).body).toEqual({
				received: true,
				started: true,
			});
			const [run] = await server.waitForRuns(1);
			expect(results.requests()).toBe(1);
			const [item] = run.output(TRIGGER_NODE);
			expect(item.json).toMatchObject({
				delivery_key: `${task.task_id as string}:succeed`,
				image: { width: 400, height: 300 },
			});
			expect(Buffer.from(item.binary!.data.data, 'base64').equals(image)).toBe(true);
		} finally {
			await results.close();
		}
	});
});

describe('duplicates under concurrency (n8n copies static data per delivery and saves it after webhook() returns)', () => {
	const remembered = (server: WebhookServer) =>
		((server.savedStaticData()[`node:${TRIGGER_NODE}`] as IDataObject | undefined)
			?.seenDeliveries ?? []) as string[];
	const deliverAll = async (server: WebhookServer, tasks: IDataObject[]) =>
		await Promise.all(tasks.map(async (task) => await deliver(server, { body: task })));

	it('50 concurrent distinct deliveries: 50 runs, 50 keys saved; the same 50 again: 0 runs, in this process and after a restart', async () => {
		const server = await serve();
		const tasks = Array.from({ length: 50 }, (_, index) =>
			klingTask(index % 2 ? 'failed' : 'succeed'),
		);
		const keys = tasks.map((task) => `${task.task_id as string}:${task.task_status as string}`);
		const first = await deliverAll(server, tasks);
		expect(
			first.every(
				(answer) => answer.status === 200 && answer.body.message === 'Workflow was started',
			),
		).toBe(true);
		await server.settled();
		expect(server.runs).toHaveLength(50);
		expect(statusesOf(server).sort()).toEqual([...keys].sort());
		expect([...remembered(server)].sort()).toEqual([...keys].sort());

		// Kling resends all of them at once (new webhook-ids): nothing starts.
		const again = await deliverAll(server, tasks);
		expect(again.map((answer) => answer.body)).toEqual(
			Array(50).fill({ received: true, started: false, reason: 'duplicate' }),
		);
		await server.settled();
		expect(server.runs).toHaveLength(50);

		// A restarted n8n knows only the saved static data.
		const restarted = await serve({}, CREDENTIALS, {}, { staticData: server.savedStaticData() });
		const afterRestart = await deliverAll(restarted, tasks);
		expect(afterRestart.map((answer) => answer.body.reason)).toEqual(Array(50).fill('duplicate'));
		await restarted.settled();
		expect(restarted.runs).toHaveLength(0);
		expect([...remembered(restarted)].sort()).toEqual([...keys].sort());
	});

	it('keeps the keys of deliveries that arrived during a download: the downloading delivery, saved last, saves them all', async () => {
		const host = await heldImageHost(await testImage(400, 300));
		try {
			const server = await serve({ downloadImages: true });
			const slow = klingTask('succeed', { task_result: { images: [{ index: 0, url: host.url }] } });
			expect((await deliver(server, { body: slow })).status).toBe(200);
			await waitFor(() => host.requests() === 1);
			const quick = Array.from({ length: 10 }, () => klingTask('failed'));
			await deliverAll(server, quick);
			await waitFor(() => server.runs.length === 10);
			host.release();
			await server.waitForRuns(11);
			const keys = [slow, ...quick].map(
				(task) => `${task.task_id as string}:${task.task_status as string}`,
			);
			expect([...remembered(server)].sort()).toEqual(keys.sort());
		} finally {
			host.release();
			await host.close();
		}
	});

	it('a restarted trigger merges saved keys with new ones, and remembers the newest 1000', async () => {
		const saved = Array.from({ length: 1000 }, (_, index) => `old-${index}:succeed`);
		const server = await serve(
			{},
			CREDENTIALS,
			{},
			{ staticData: { [`node:${TRIGGER_NODE}`]: { seenDeliveries: saved } } },
		);
		expect(
			(await deliver(server, { body: { ...klingTask(), task_id: 'old-999' } })).body.reason,
		).toBe('duplicate');
		const task = klingTask();
		await deliver(server, { body: task });
		await server.settled();
		expect(remembered(server)).toEqual([...saved.slice(1), `${task.task_id as string}:succeed`]);
		expect((await deliver(server, { body: { ...klingTask(), task_id: 'old-0' } })).body).toEqual({
			message: 'Workflow was started',
		});
	});
});
