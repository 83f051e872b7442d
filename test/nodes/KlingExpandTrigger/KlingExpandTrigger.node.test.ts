import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ICredentialDataDecryptedObject, IDataObject, INodeExecutionData, INodeParameters } from 'n8n-workflow';
import sharp from 'sharp';

import { capturedLogs, runWorkflow } from '../../harness/engine';
import { testImage, useSimulator } from '../../harness/fixtures';
import type { WebhookServer } from '../../harness/webhooks';
import { serveTrigger, TRIGGER_NODE, triggerWorkflow } from '../../harness/webhooks';
import { binaryItem, expandWorkflow, EXPAND_NODE, simulatorCredentials } from '../../harness/workflows';
import type { CallbackMode, TaskStatus } from '../../simulator';
import { SIMULATOR_DEFAULT_KEYS, signStandardWebhook } from '../../simulator';

const SECRET = SIMULATOR_DEFAULT_KEYS.webhookSecret;
const CREDENTIALS = { klingApi: { webhookSecret: SECRET } };
const TOKEN = 'shared-token-Zq81';

const servers: WebhookServer[] = [];
afterEach(async () => {
	await Promise.all(servers.splice(0).map(async (server) => await server.close()));
});

async function serve(parameters: INodeParameters = {}, credentials: Record<string, ICredentialDataDecryptedObject> = CREDENTIALS): Promise<WebhookServer> {
	const server = await serveTrigger(triggerWorkflow(parameters), TRIGGER_NODE, credentials);
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
		...(status === 'succeed' ? { task_result: { images: [{ index: 0, url: `https://cdn.example/${taskId}/0.png` }] } } : {}),
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
async function deliver(server: WebhookServer, delivery: Delivery): Promise<{ status: number; body: IDataObject }> {
	const raw = Buffer.isBuffer(delivery.body) ? delivery.body : Buffer.from(typeof delivery.body === 'string' ? delivery.body : JSON.stringify(delivery.body));
	const id = delivery.id === undefined ? `msg_${++deliveryCount}_${Date.now()}` : delivery.id;
	const timestamp = delivery.timestamp === undefined ? nowSeconds() : delivery.timestamp;
	const signature =
		delivery.signature === undefined ? signStandardWebhook(delivery.secret ?? SECRET, String(id), String(timestamp), raw.toString('utf8')) : delivery.signature;
	const headers: Record<string, string> = { 'content-type': delivery.contentType ?? 'application/json', ...delivery.headers };
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

const outputOf = (server: WebhookServer): INodeExecutionData[][] => server.runs.map((run) => run.output(TRIGGER_NODE));
const statusesOf = (server: WebhookServer) => outputOf(server).map((items) => `${items[0].json.task_id as string}:${items[0].json.task_status as string}`);

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
		['a flipped body byte', () => ({ tamper: (raw) => Buffer.from(raw.toString('utf8').replace('"succeed"', '"succeee"')) }), /no signature in webhook-signature matches the body/],
		['a flipped byte in the image URL', () => ({ tamper: (raw) => Buffer.from(raw.toString('utf8').replace('cdn.example', 'cdn.exbmple')) }), /no signature in webhook-signature matches/],
		['a wrong secret', () => ({ secret: 'whsec_' + Buffer.from('not-the-secret-of-this-account!!').toString('base64') }), /no signature in webhook-signature matches/],
		['no webhook-id header', () => ({ id: null, signature: signStandardWebhook(SECRET, '', nowSeconds(), '{}') }), /header is missing/],
		['no webhook-timestamp header', () => ({ timestamp: null }), /header is missing/],
		['no webhook-signature header', () => ({ signature: null }), /header is missing/],
		['a timestamp 301 s in the past', () => ({ timestamp: nowSeconds() - 301 }), /more than 5 minutes away/],
		['a timestamp 301 s in the future', () => ({ timestamp: nowSeconds() + 301 }), /more than 5 minutes away/],
		['a signature under another version', () => ({ signature: 'v2,' + signStandardWebhook(SECRET, 'x', 1, '{}').slice(3) }), /no signature in webhook-signature matches/],
	])('refuses %s with 401, starts no run, and logs why', async (_case, change, reason) => {
		const server = await serve();
		const logs = logsFromNow();
		const answer = await deliver(server, { body: klingTask(), ...change(klingTask()) });
		expect(answer.status).toBe(401);
		expect(answer.body.error).toMatch(reason);
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(server.failures).toEqual([]);
		expect(logs()).toEqual([expect.stringMatching(new RegExp(`^warn Kling Expand Trigger refused a callback \\(HTTP 401\\): signature check failed: .*${reason.source}`))]);
	});

	it.each([299, -299])('accepts a timestamp %i s away', async (offset) => {
		const server = await serve();
		const task = klingTask();
		expect((await deliver(server, { body: task, timestamp: nowSeconds() + offset })).status).toBe(200);
		await server.settled();
		expect(statusesOf(server)).toEqual([`${task.task_id as string}:succeed`]);
	});

	it('refuses every callback when the credential has no signing secret, instead of trusting it', async () => {
		const server = await serve({}, { klingApi: { webhookSecret: '' } });
		const answer = await deliver(server, { body: klingTask() });
		expect(answer).toEqual({ status: 401, body: { error: 'signature check failed: no callback signing secret is set in the Kling API credential' } });
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
			expect(answer).toEqual({ status: 200, body: { received: true, started: false, reason: 'status not selected' } });
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
		for (const status of ['submitted', 'processing', 'failed']) await deliver(server, { body: { ...task, task_status: status } });
		await server.settled();
		expect(statusesOf(server)).toEqual([`${task.task_id as string}:processing`, `${task.task_id as string}:failed`]);
	});
});

describe('duplicates and order', () => {
	it('starts one run when the same delivery (same webhook-id) arrives twice', async () => {
		const server = await serve();
		const task = klingTask();
		const raw = JSON.stringify(task);
		const timestamp = nowSeconds();
		const delivery = { body: raw, id: 'msg_same', timestamp, signature: signStandardWebhook(SECRET, 'msg_same', timestamp, raw) };
		expect((await deliver(server, delivery)).status).toBe(200);
		expect(await deliver(server, delivery)).toEqual({ status: 200, body: { received: true, started: false, reason: 'duplicate' } });
		await server.settled();
		expect(server.runs).toHaveLength(1);
	});

	it('starts one run when the same task and status arrive again under a new webhook-id', async () => {
		const server = await serve();
		const task = klingTask();
		await deliver(server, { body: task, id: 'msg_first' });
		expect((await deliver(server, { body: task, id: 'msg_second' })).body).toEqual({ received: true, started: false, reason: 'duplicate' });
		await server.settled();
		expect(server.runs).toHaveLength(1);
	});

	it('starts one run when the same delivery arrives several times at once', async () => {
		const server = await serve();
		const task = klingTask();
		const answers = await Promise.all([1, 2, 3, 4, 5].map(async () => await deliver(server, { body: task, id: 'msg_burst' })));
		expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
		await server.settled();
		expect(server.runs).toHaveLength(1);
	});

	it('starts at most one run per task and status when deliveries arrive out of order', async () => {
		const server = await serve({ statuses: ['submitted', 'processing', 'succeed', 'failed'] });
		const task = klingTask('submitted');
		const id = task.task_id as string;
		for (const status of ['submitted', 'succeed', 'processing', 'submitted', 'succeed']) await deliver(server, { body: { ...task, task_status: status } });
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
		expect(statusesOf(server).sort()).toEqual([`${first.task_id as string}:succeed`, `${second.task_id as string}:succeed`].sort());
	});

	it('remembers deliveries in the workflow’s static data, so a repeat after a restart of n8n starts nothing', async () => {
		const server = await serve();
		const task = klingTask();
		await deliver(server, { body: task, id: 'msg_kept' });
		await server.settled();
		const saved = server.savedStaticData();
		expect(saved[`node:${TRIGGER_NODE}`]).toEqual({ seenDeliveries: [`${task.task_id as string}:succeed`, 'id:msg_kept'] });

		// Another node id: nothing this process remembers applies, only the saved static data.
		const restarted = await serveTrigger(triggerWorkflow({}, { id: 'trigger-after-restart' }), TRIGGER_NODE, CREDENTIALS, { staticData: saved });
		servers.push(restarted);
		expect((await deliver(restarted, { body: task, id: 'msg_kept_resent' })).body).toEqual({ received: true, started: false, reason: 'duplicate' });
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
		const answer = await deliver(server, { body: '{"task_id": "t-1", "task_status": "succeed"', contentType: 'text/plain' });
		expect(answer).toEqual({ status: 400, body: { error: 'the body is not JSON' } });
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual(['warn Kling Expand Trigger refused a callback (HTTP 400): the body is not JSON {}']);
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
		expect(answer).toEqual({ status: 400, body: { error: 'the body is not a Kling task (task_id and task_status are required)' } });
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual([expect.stringMatching(/^warn Kling Expand Trigger refused a callback \(HTTP 400\): the body is not a Kling task/)]);
	});

	it('lets no __proto__ or constructor key of the callback pollute Object.prototype or reach the output', async () => {
		const server = await serve();
		const task = klingTask();
		const hostile = JSON.stringify(task).replace(
			/^\{/,
			'{"__proto__":{"polluted":"yes","task_status_msg":"injected"},"constructor":{"prototype":{"polluted":"yes"}},',
		)
			.replace('"task_info":{', '"task_info":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},')
			.replace('"watermark_info":{"enabled":false}', '"watermark_info":{"__proto__":{"enabled":true}}')
			.replace('"index":0,', '"index":0,"__proto__":{"watermark_url":"https://evil.example/x.png"},"constructor":{"name":"x"},');
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
			value !== null && typeof value === 'object' ? Object.getOwnPropertyNames(value).flatMap((key) => [key, ...ownKeys((value as IDataObject)[key])]) : [];
		expect(ownKeys(item.json)).not.toContain('__proto__');
		expect(ownKeys(item.json)).not.toContain('constructor');
		expect(JSON.stringify(item.json)).not.toMatch(/polluted|injected|evil/);
	});
});

describe('shared token (CometAPI style, signature check off)', () => {
	const tokenOnly = { verifySignature: false, sharedToken: TOKEN };
	const unsigned = { id: null, timestamp: null, signature: null } as const;

	it('starts a run when the token is in the URL', async () => {
		const server = await serve(tokenOnly, {});
		const task = klingTask();
		expect((await deliver(server, { body: task, ...unsigned, query: `?token=${TOKEN}` })).status).toBe(200);
		await server.settled();
		expect(outputOf(server)).toEqual([[expect.objectContaining({ json: normalised(task) })]]);
	});

	it('starts a run when the token is in the x-kling-token header', async () => {
		const server = await serve(tokenOnly, {});
		const task = klingTask();
		expect((await deliver(server, { body: task, ...unsigned, headers: { 'x-kling-token': TOKEN } })).status).toBe(200);
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
		expect(answer).toEqual({ status: 401, body: { error: 'the shared token is missing or wrong' } });
		await server.settled();
		expect(server.runs).toHaveLength(0);
		expect(logs()).toEqual(['warn Kling Expand Trigger refused a callback (HTTP 401): the shared token is missing or wrong {}']);
	});

	it('requires both the token and the signature when both are on', async () => {
		const server = await serve({ sharedToken: TOKEN });
		expect((await deliver(server, { body: klingTask(), signature: null, query: `?token=${TOKEN}` })).status).toBe(401);
		expect((await deliver(server, { body: klingTask() })).status).toBe(401);
		const task = klingTask();
		expect((await deliver(server, { body: task, query: `?token=${TOKEN}` })).status).toBe(200);
		await server.settled();
		expect(statusesOf(server)).toEqual([`${task.task_id as string}:succeed`]);
	});
});

describe('logs', () => {
	it('shows every refusal with its status and reason, and never a secret, token or signature', async () => {
		const server = await serve({ sharedToken: TOKEN });
		const logs = logsFromNow();
		const raw = JSON.stringify(klingTask());
		const timestamp = nowSeconds();
		const signature = signStandardWebhook(SECRET, 'msg_log', timestamp, raw);
		await deliver(server, { body: raw, query: '?token=wrong-token-guess' });
		await deliver(server, { body: raw, id: 'msg_log', timestamp, signature, tamper: (bytes) => Buffer.concat([bytes, Buffer.from(' ')]), query: `?token=${TOKEN}` });
		await deliver(server, { body: raw, id: 'msg_log', timestamp: timestamp - 400, signature, query: `?token=${TOKEN}` });
		await deliver(server, { body: 'not json', contentType: 'text/plain', query: `?token=${TOKEN}` });
		await server.settled();
		const lines = logs();
		expect(lines.filter((line) => line.startsWith('warn Kling Expand Trigger refused a callback'))).toEqual([
			'warn Kling Expand Trigger refused a callback (HTTP 401): the shared token is missing or wrong {}',
			'warn Kling Expand Trigger refused a callback (HTTP 401): signature check failed: no signature in webhook-signature matches the body {}',
			'warn Kling Expand Trigger refused a callback (HTTP 401): signature check failed: webhook-timestamp is more than 5 minutes away from now {}',
			'warn Kling Expand Trigger refused a callback (HTTP 400): the body is not JSON {}',
		]);
		const secrets = [SECRET, SECRET.slice('whsec_'.length), Buffer.from(SECRET.slice('whsec_'.length), 'base64').toString('hex'), TOKEN, 'wrong-token-guess', signature.slice(3)];
		for (const line of capturedLogs) for (const secret of secrets) expect(line).not.toContain(secret);
	});
});

/** An image host that holds its answer until released, to see what the trigger does meanwhile. */
async function heldImageHost(image: Buffer) {
	let release: () => void = () => {};
	const released = new Promise<void>((resolve) => (release = resolve));
	let requests = 0;
	const server = createServer((_req, res) => {
		requests++;
		void released.then(() => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(image));
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
		const image = await sharp({ create: { width: 640, height: 360, channels: 3, background: '#3a7' } }).png().toBuffer();
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
			expect(item.json).toEqual({ ...normalised(task), image: { index: 0, url: host.url, width: 640, height: 360, file_name: fileName, mime_type: 'image/png' } });
			expect(item.binary?.data).toMatchObject({ fileName, mimeType: 'image/png' });
			const bytes = Buffer.from(item.binary!.data.data, 'base64');
			expect(bytes.equals(image)).toBe(true);
			expect(await sharp(bytes).metadata()).toMatchObject({ width: 640, height: 360, format: 'png' });
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
			expect((await deliver(server, { body: task, id: 'msg_slow' })).body).toEqual({ received: true, started: false, reason: 'duplicate' });
			expect((await deliver(server, { body: task, id: 'msg_slow_again' })).body).toEqual({ received: true, started: false, reason: 'duplicate' });
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
			expect((await deliver(server, { body: task, id: 'msg_expired' })).body).toEqual({ received: true, started: true });
			const [run] = await server.waitForRuns(1);
			expect(run.output(TRIGGER_NODE)[0].json).toMatchObject({ task_id: task.task_id, download_error: `Downloading ${url} answered HTTP 404` });
			expect(run.output(TRIGGER_NODE)[0].binary).toBeUndefined();
			expect(capturedLogs.some((line) => line.includes(`could not download the images of task ${task.task_id}`))).toBe(true);

			// The same delivery again is a duplicate: the task's run already happened.
			expect((await deliver(server, { body: task, id: 'msg_expired' })).body).toMatchObject({ started: false, reason: 'duplicate' });
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
		expect((await deliver(server, { body: task })).body).toEqual({ message: 'Workflow was started' });
		await server.settled();
		expect(outputOf(server)).toEqual([[expect.objectContaining({ json: normalised(task) })]]);
		expect(server.runs[0].output(TRIGGER_NODE)[0].binary).toBeUndefined();
	});
});

describe.each<[CallbackMode, Array<[TaskStatus, number]>]>([
	['normal', [['submitted', 200], ['processing', 200], ['succeed', 200]]],
	['duplicate', [['submitted', 200], ['submitted', 200], ['processing', 200], ['processing', 200], ['succeed', 200], ['succeed', 200]]],
	['outOfOrder', [['submitted', 200], ['succeed', 200], ['processing', 200]]],
])('end to end with %s callbacks', (callbackMode, expectedDeliveries) => {
	const simulator = useSimulator({ webhookSecret: SIMULATOR_DEFAULT_KEYS.webhookSecret, callbackMode });

	it('submits with the trigger’s URL as callback_url and gets one run with the finished task and its expanded image', async () => {
		const sim = simulator();
		const credentials = simulatorCredentials(sim.url);
		const server = await serveTrigger(triggerWorkflow({ downloadImages: true }), TRIGGER_NODE, credentials);
		servers.push(server);

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
		expect((sim.tasks.get(task.task_id as string)?.createBody as IDataObject).callback_url).toBe(server.url);

		await waitFor(() => sim.callbackDeliveries.length === expectedDeliveries.length);
		await server.settled();
		expect(sim.callbackDeliveries.map((delivery) => [delivery.body.task_status, delivery.status])).toEqual(expectedDeliveries);
		expect(sim.callbackDeliveries.every((delivery) => delivery.headers['webhook-signature']?.startsWith('v1,'))).toBe(true);

		expect(server.failures).toEqual([]);
		expect(server.runs).toHaveLength(1);
		const [item, ...rest] = server.runs[0].output(TRIGGER_NODE);
		expect(rest).toHaveLength(0);
		const expansion = task.expansion as { expected_width: number; expected_height: number };
		expect(expansion).toMatchObject({ expected_width: 440, expected_height: 525 });
		expect(sim.tasks.get(task.task_id as string)?.resultImageSize).toEqual({ width: 440, height: 525 });
		expect(item.json).toMatchObject({
			task_id: task.task_id,
			task_status: 'succeed',
			external_task_id: task.external_task_id,
			task_result: { images: [{ index: 0, url: expect.stringContaining(sim.url) }] },
			image: { index: 0, width: 440, height: 525, mime_type: 'image/png' },
		});
		const bytes = Buffer.from(item.binary!.data.data, 'base64');
		expect(await sharp(bytes).metadata()).toMatchObject({ width: 440, height: 525, format: 'png' });

		// Downstream nodes cannot tell which path produced it: Get Task outputs the very same item.
		const fetched = await runWorkflow(expandWorkflow({ operation: 'getTask', taskId: task.task_id as string, downloadImages: true }), {
			startNode: EXPAND_NODE,
			input: [{ json: {} }],
			credentials,
		});
		const [viaGetTask] = fetched.output(EXPAND_NODE);
		expect(item.json).toEqual(viaGetTask.json);
		expect(Buffer.from(viaGetTask.binary!.data.data, 'base64').equals(bytes)).toBe(true);
	});
});
