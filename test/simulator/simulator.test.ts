import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import {
	makeTestImage,
	SIMULATOR_DEFAULT_KEYS,
	signStandardWebhook,
	startSimulator,
	type Simulator,
	type SimulatorOptions,
	type TaskStatus,
} from './index';

const EXPAND = '/v1/images/editing/expand';
const KEYS = SIMULATOR_DEFAULT_KEYS;
const NO_EXPANSION = {
	up_expansion_ratio: 0,
	down_expansion_ratio: 0,
	left_expansion_ratio: 0,
	right_expansion_ratio: 0,
};

interface Reply {
	status: number;
	// Replies are read loosely: each test asserts the shape it cares about.
	json: any;
	text: string;
	elapsedMs: number;
}

async function call(
	simulator: Simulator,
	method: string,
	path: string,
	options: { body?: unknown; token?: string | null } = {},
): Promise<Reply> {
	const token = options.token === undefined ? KEYS.apiKey : options.token;
	const started = Date.now();
	const response = await fetch(simulator.url + path, {
		method,
		headers: {
			...(token !== null && { authorization: `Bearer ${token}` }),
			...(options.body !== undefined && { 'content-type': 'application/json' }),
		},
		body: options.body === undefined ? undefined : JSON.stringify(options.body),
	});
	const text = await response.text();
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		json = undefined;
	}
	return { status: response.status, json, text, elapsedMs: Date.now() - started };
}

/** HS256 JWT exactly as the contract describes, written independently of the simulator's verifier. */
function signJwt(claims: Record<string, unknown>, secret: string): string {
	const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
	const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
	return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

async function waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 4000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = probe();
		if (value) return value;
		if (Date.now() > deadline) throw new Error('waitFor timed out');
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

async function waitForStatus(
	simulator: Simulator,
	taskId: string,
	status: TaskStatus,
): Promise<number> {
	await waitFor(() => simulator.tasks.get(taskId)?.task_status === status);
	return Date.now();
}

/** A loopback HTTP peer: records POSTed callbacks and serves one image at /image.png. */
async function startPeer(image?: Buffer): Promise<{
	url: string;
	received: { headers: IncomingHttpHeaders; rawBody: string }[];
	close(): Promise<void>;
}> {
	const received: { headers: IncomingHttpHeaders; rawBody: string }[] = [];
	const server: Server = createServer((request, response) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			if (request.method === 'GET' && image)
				return void response.writeHead(200, { 'content-type': 'image/png' }).end(image);
			received.push({ headers: request.headers, rawBody: Buffer.concat(chunks).toString('utf8') });
			response.writeHead(204).end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		received,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

let png400x300: Buffer;
let sourceBase64: string;
const openSimulators: Simulator[] = [];

async function simulatorWith(options: SimulatorOptions = {}): Promise<Simulator> {
	const simulator = await startSimulator({ taskDurationMs: 150, ...options });
	openSimulators.push(simulator);
	return simulator;
}

function createBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
	return { image: sourceBase64, ...NO_EXPANSION, up_expansion_ratio: 0.1, ...overrides };
}

beforeAll(async () => {
	png400x300 = await makeTestImage({ width: 400, height: 300, format: 'png', seed: 7 });
	sourceBase64 = png400x300.toString('base64');
});

afterAll(async () => {
	await Promise.all(openSimulators.map((simulator) => simulator.close()));
});

describe('makeTestImage', () => {
	it('makes an image of the asked size and format, the same for the same seed', async () => {
		const jpeg = await makeTestImage({ width: 320, height: 480, format: 'jpeg', seed: 3 });
		expect(await sharp(jpeg).metadata()).toMatchObject({ width: 320, height: 480, format: 'jpeg' });
		expect(
			jpeg.equals(await makeTestImage({ width: 320, height: 480, format: 'jpeg', seed: 3 })),
		).toBe(true);
		expect(
			jpeg.equals(await makeTestImage({ width: 320, height: 480, format: 'jpeg', seed: 4 })),
		).toBe(false);
	});
});

describe('authentication', () => {
	let simulator: Simulator;
	const now = () => Math.floor(Date.now() / 1000);
	beforeAll(async () => {
		simulator = await simulatorWith();
	});

	it('accepts a plain Kling API key on the direct path', async () => {
		const reply = await call(simulator, 'GET', EXPAND);
		expect(reply.status).toBe(200);
		expect(reply.json).toMatchObject({ code: 0, data: [] });
	});

	it('accepts a JWT signed with the secret key of the access key in iss', async () => {
		const token = signJwt(
			{ iss: KEYS.accessKey, exp: now() + 1800, nbf: now() - 5 },
			KEYS.secretKey,
		);
		expect((await call(simulator, 'GET', EXPAND, { token })).json.code).toBe(0);
	});

	it.each([
		['no Authorization header', 1001, null],
		['an empty bearer', 1001, ''],
		['an unknown key', 1002, 'nope'],
		[
			'a JWT signed with the wrong secret',
			1002,
			signJwt({ iss: KEYS.accessKey, exp: now() + 1800 }, 'wrong'),
		],
		[
			'a JWT naming an unknown access key',
			1002,
			signJwt({ iss: 'stranger', exp: now() + 1800 }, KEYS.secretKey),
		],
		['a JWT without exp', 1002, signJwt({ iss: KEYS.accessKey }, KEYS.secretKey)],
		[
			'a JWT not valid yet',
			1003,
			signJwt({ iss: KEYS.accessKey, exp: now() + 1800, nbf: now() + 60 }, KEYS.secretKey),
		],
		[
			'an expired JWT',
			1004,
			signJwt({ iss: KEYS.accessKey, exp: now() - 10, nbf: now() - 1800 }, KEYS.secretKey),
		],
		['a CometAPI key on the Kling direct path', 1002, KEYS.cometKey],
	])('refuses %s with 401 and code %i', async (_, code, token) => {
		const reply = await call(simulator, 'GET', EXPAND, { token });
		expect(reply.status).toBe(401);
		expect(reply.json).toMatchObject({ code, data: null });
		expect(typeof reply.json.request_id).toBe('string');
	});

	it('accepts a CometAPI key on /kling paths and /v1/models, and no Kling credential there', async () => {
		expect(
			(await call(simulator, 'GET', `/kling${EXPAND}`, { token: KEYS.cometKey })).json.code,
		).toBe(0);
		const models = await call(simulator, 'GET', '/v1/models', { token: KEYS.cometKey });
		expect(models.status).toBe(200);
		expect(Array.isArray(models.json.data)).toBe(true);
		expect((await call(simulator, 'GET', `/kling${EXPAND}`)).json.code).toBe(1002);
		expect((await call(simulator, 'GET', '/v1/models')).json.code).toBe(1002);
	});
});

describe('create validation', () => {
	let simulator: Simulator;
	let peer: Awaited<ReturnType<typeof startPeer>>;
	beforeAll(async () => {
		simulator = await simulatorWith({ taskDurationMs: 50 });
		peer = await startPeer(png400x300);
	});
	afterAll(() => peer.close());

	const imageOf = async (width: number, height: number) =>
		(await makeTestImage({ width, height, format: 'png' })).toString('base64');

	it.each<[string, () => Promise<Record<string, unknown>>, string]>([
		['a missing image', async () => createBody({ image: undefined }), 'image is required'],
		[
			'a data: prefix',
			async () => createBody({ image: `data:image/png;base64,${sourceBase64}` }),
			'data:',
		],
		[
			'text that is neither URL nor base64',
			async () => createBody({ image: 'not an image!' }),
			'raw base64',
		],
		[
			'a GIF',
			async () => createBody({ image: Buffer.from('GIF89a0000000000').toString('base64') }),
			'JPG, JPEG or PNG',
		],
		[
			'an image over 10 MB',
			async () => createBody({ image: Buffer.alloc(10 * 1024 * 1024 + 1).toString('base64') }),
			'10 MB',
		],
		[
			'a side under 300 px',
			async () => createBody({ image: await imageOf(299, 400) }),
			'at least 300',
		],
		[
			'an aspect beyond 2.5:1',
			async () => createBody({ image: await imageOf(800, 300) }),
			'aspect ratio',
		],
		[
			'a URL off the loopback',
			async () => createBody({ image: 'https://example.com/cat.png' }),
			'127.0.0.1',
		],
		[
			'a missing ratio',
			async () => createBody({ left_expansion_ratio: undefined }),
			'left_expansion_ratio is required',
		],
		[
			'a ratio above 2',
			async () => createBody({ right_expansion_ratio: 2.5 }),
			'right_expansion_ratio is 2.5',
		],
		[
			'a ratio given as text',
			async () => createBody({ up_expansion_ratio: '0.1' }),
			'up_expansion_ratio must be a number',
		],
		[
			'a canvas over 3x the area',
			async () => createBody({ left_expansion_ratio: 1, right_expansion_ratio: 1 }),
			'must not exceed 3',
		],
		[
			'a prompt over 2500 characters',
			async () => createBody({ prompt: 'x'.repeat(2501) }),
			'prompt has 2501',
		],
		['n = 10', async () => createBody({ n: 10 }), 'n is 10'],
		['n = 1.5', async () => createBody({ n: 1.5 }), 'n is 1.5'],
	])('refuses %s with 400 / 1201 naming the rule', async (_, makeBody, message) => {
		const reply = await call(simulator, 'POST', EXPAND, { body: await makeBody() });
		expect(reply.status).toBe(400);
		expect(reply.json.code).toBe(1201);
		expect(reply.json.message).toContain(message);
		expect(simulator.acceptedCreates()).toBe(0);
	});

	it('refuses a body that is not JSON with 1200', async () => {
		const response = await fetch(simulator.url + EXPAND, {
			method: 'POST',
			headers: { authorization: `Bearer ${KEYS.apiKey}` },
			body: '{oops',
		});
		expect(response.status).toBe(400);
		expect(((await response.json()) as { code: number }).code).toBe(1200);
	});

	it('accepts a canvas of exactly 3x and the documented 16:9 example ratios', async () => {
		const exactlyThree = {
			left_expansion_ratio: 0.5,
			right_expansion_ratio: 0.5,
			up_expansion_ratio: 0.25,
			down_expansion_ratio: 0.25,
		};
		const documented = {
			up_expansion_ratio: 0.1495,
			down_expansion_ratio: 0.1495,
			left_expansion_ratio: 0.6547,
			right_expansion_ratio: 0.6547,
		};
		for (const ratios of [exactlyThree, documented]) {
			expect((await call(simulator, 'POST', EXPAND, { body: createBody(ratios) })).json.code).toBe(
				0,
			);
		}
	});

	it('fetches an image URL on the loopback', async () => {
		const reply = await call(simulator, 'POST', EXPAND, {
			body: createBody({ image: `${peer.url}/image.png` }),
		});
		expect(reply.json.code).toBe(0);
		expect(simulator.tasks.get(reply.json.data.task_id)?.sourceSize).toEqual({
			width: 400,
			height: 300,
		});
	});

	it('takes bottom_expansion_ratio when down_expansion_ratio is absent, and records which name came', async () => {
		const body = createBody({ down_expansion_ratio: undefined, bottom_expansion_ratio: 0.2 });
		const reply = await call(simulator, 'POST', `/kling${EXPAND}`, { body, token: KEYS.cometKey });
		const task = simulator.tasks.get(reply.json.data.task_id);
		expect(task).toMatchObject({ downRatioField: 'bottom_expansion_ratio', via: 'comet' });
		expect(task?.resultImageSize).toEqual({ width: 400, height: Math.round(1.3 * 300) });
	});

	it('refuses a second task with the same external_task_id', async () => {
		const body = createBody({ external_task_id: 'order-17' });
		expect((await call(simulator, 'POST', EXPAND, { body })).json.code).toBe(0);
		const again = await call(simulator, 'POST', EXPAND, { body });
		expect(again.json).toMatchObject({
			code: 1201,
			message: expect.stringContaining('external_task_id'),
		});
	});
});

describe('expansion', () => {
	let simulator: Simulator;
	beforeAll(async () => {
		simulator = await simulatorWith({ taskDurationMs: 60 });
	});

	async function expandAndDownload(body: Record<string, unknown>) {
		const created = await call(simulator, 'POST', EXPAND, { body });
		expect(created.json.code).toBe(0);
		const taskId: string = created.json.data.task_id;
		await waitForStatus(simulator, taskId, 'succeed');
		const task = (await call(simulator, 'GET', `${EXPAND}/${taskId}`)).json.data;
		const images = await Promise.all(
			task.task_result.images.map(async ({ url }: { url: string }) =>
				Buffer.from(await (await fetch(url)).arrayBuffer()),
			),
		);
		return { task, images };
	}

	async function expectOriginalAt(result: Buffer, source: Buffer, left: number, top: number) {
		const { width, height } = await sharp(source).metadata();
		const region = await sharp(result)
			.extract({ left, top, width: width!, height: height! })
			.raw()
			.toBuffer();
		const original = await sharp(source).raw().toBuffer();
		expect(region.equals(original)).toBe(true);
	}

	it('makes the canvas the ratios imply with the original pixels at the left/top offset', async () => {
		const ratios = {
			left_expansion_ratio: 0.25,
			right_expansion_ratio: 0.5,
			up_expansion_ratio: 0.1,
			down_expansion_ratio: 0.3,
		};
		const { task, images } = await expandAndDownload(createBody(ratios));
		expect(images).toHaveLength(1);
		expect(await sharp(images[0]).metadata()).toMatchObject({
			format: 'png',
			width: 700,
			height: 420,
		});
		await expectOriginalAt(images[0], png400x300, 100, 30);
		expect(task).toMatchObject({ task_status: 'succeed', final_unit_deduction: '8' });
	});

	it('expands a JPEG, rounding odd ratios, into n images with watermark URLs when asked', async () => {
		const jpeg = await makeTestImage({ width: 333, height: 501, format: 'jpeg', seed: 9 });
		const ratios = {
			left_expansion_ratio: 0.123,
			right_expansion_ratio: 0.0,
			up_expansion_ratio: 0.0,
			down_expansion_ratio: 0.777,
		};
		const body = {
			image: jpeg.toString('base64'),
			...ratios,
			n: 2,
			watermark_info: { enabled: true },
		};
		const { task, images } = await expandAndDownload(body);
		const [width, height] = [Math.round(1.123 * 333), Math.round(1.777 * 501)];
		for (const image of images)
			expect(await sharp(image).metadata()).toMatchObject({ width, height });
		await expectOriginalAt(images[1], jpeg, Math.round(0.123 * 333), 0);
		expect(task.final_unit_deduction).toBe('16');
		expect(task.task_result.images.map((image: { index: number }) => image.index)).toEqual([0, 1]);
		expect((await fetch(task.task_result.images[1].watermark_url)).status).toBe(200);
	});

	it('serves no result for a task that has not succeeded', async () => {
		const created = await call(simulator, 'POST', EXPAND, { body: createBody() });
		const response = await fetch(`${simulator.url}/results/${created.json.data.task_id}/0.png`);
		expect(response.status).toBe(404);
	});
});

describe('task lifecycle, query and list', () => {
	let simulator: Simulator;
	beforeAll(async () => {
		simulator = await simulatorWith({ taskDurationMs: 200 });
	});
	afterEach(() => simulator.reset());

	it('moves submitted -> processing at half the duration -> succeed at the duration', async () => {
		const created = await call(simulator, 'POST', EXPAND, { body: createBody() });
		const { task_id: taskId, task_status, created_at } = created.json.data;
		expect(task_status).toBe('submitted');
		expect(created.json.data.task_info).toEqual({ external_task_id: '' });
		const processingAt = await waitForStatus(simulator, taskId, 'processing');
		expect(processingAt - created_at).toBeGreaterThanOrEqual(90);
		expect(processingAt - created_at).toBeLessThan(190);
		await waitForStatus(simulator, taskId, 'succeed');
		const completedAt = simulator.tasks.get(taskId)!.completedAt!;
		expect(completedAt - created_at).toBeGreaterThanOrEqual(195);
		expect(completedAt - created_at).toBeLessThan(300);
	});

	it('finds a task by task_id or external_task_id and answers 404 / 1203 for an unknown id', async () => {
		const created = await call(simulator, 'POST', EXPAND, {
			body: createBody({ external_task_id: 'mine-1' }),
		});
		const byId = await call(simulator, 'GET', `${EXPAND}/${created.json.data.task_id}`);
		const byExternal = await call(simulator, 'GET', `${EXPAND}/mine-1`);
		expect(byExternal.json.data).toEqual(byId.json.data);
		expect(byId.json.data).toMatchObject({
			task_info: { external_task_id: 'mine-1' },
			task_status: 'submitted',
		});
		const missing = await call(simulator, 'GET', `${EXPAND}/nothing-here`);
		expect(missing.status).toBe(404);
		expect(missing.json.code).toBe(1203);
	});

	it('lists newest first in pages and refuses page parameters out of range', async () => {
		for (const id of ['a', 'b', 'c'])
			await call(simulator, 'POST', EXPAND, { body: createBody({ external_task_id: id }) });
		const page = async (query: string) => (await call(simulator, 'GET', `${EXPAND}?${query}`)).json;
		const externalIds = (list: { data: { task_info: { external_task_id: string } }[] }) =>
			list.data.map((task) => task.task_info.external_task_id);
		expect(externalIds(await page('pageNum=1&pageSize=2'))).toEqual(['c', 'b']);
		expect(externalIds(await page('pageNum=2&pageSize=2'))).toEqual(['a']);
		expect((await page('pageSize=501')).code).toBe(1201);
		expect((await page('pageNum=0')).code).toBe(1201);
	});

	it('ends matching tasks failed with the given message, unbilled', async () => {
		simulator.failTasksWith(
			'Failure to pass the risk control system',
			(body) => body.prompt === 'bad',
		);
		const bad = await call(simulator, 'POST', EXPAND, { body: createBody({ prompt: 'bad' }) });
		const good = await call(simulator, 'POST', EXPAND, { body: createBody({ prompt: 'good' }) });
		await waitForStatus(simulator, bad.json.data.task_id, 'failed');
		await waitForStatus(simulator, good.json.data.task_id, 'succeed');
		const failed = (await call(simulator, 'GET', `${EXPAND}/${bad.json.data.task_id}`)).json.data;
		expect(failed).toMatchObject({
			task_status_msg: 'Failure to pass the risk control system',
			final_unit_deduction: '0',
		});
		expect(failed.task_result).toBeUndefined();
	});
});

describe('concurrency', () => {
	it('answers 429 / 1303 when n would push held slots over the limit, without billing', async () => {
		const simulator = await simulatorWith({ concurrencyLimit: 2, taskDurationMs: 150 });
		const first = await call(simulator, 'POST', EXPAND, { body: createBody({ n: 2 }) });
		expect(first.json.code).toBe(0);
		const refused = await call(simulator, 'POST', EXPAND, { body: createBody() });
		expect(refused.status).toBe(429);
		expect(refused.json).toMatchObject({ code: 1303, data: null });
		await waitForStatus(simulator, first.json.data.task_id, 'succeed');
		expect((await call(simulator, 'POST', EXPAND, { body: createBody({ n: 2 }) })).json.code).toBe(
			0,
		);
		expect(simulator.stats()).toMatchObject({
			creates: 3,
			accepted: 2,
			rejected1303: 1,
			peakSlots: 2,
		});
	});
});

describe('faults', () => {
	let simulator: Simulator;
	beforeAll(async () => {
		simulator = await simulatorWith({ taskDurationMs: 100 });
	});
	afterEach(() => simulator.reset());

	it.each([
		[1302, 429],
		[1303, 429],
		[1102, 429],
		[1304, 429],
		[5000, 500],
		[5001, 503],
		[5002, 504],
		[1201, 400],
		[1301, 400],
		[1003, 401],
		[1103, 403],
		[1203, 404],
	])('answers injected code %i with HTTP %i in the Kling envelope', async (code, status) => {
		simulator.injectFault({ on: 'list', kind: 'code', code });
		const reply = await call(simulator, 'GET', EXPAND);
		expect(reply.status).toBe(status);
		expect(reply.json).toMatchObject({
			code,
			data: null,
			message: expect.any(String),
			request_id: expect.any(String),
		});
		expect((await call(simulator, 'GET', EXPAND)).status).toBe(200);
	});

	it('does not bill a create answered with an injected code', async () => {
		simulator.injectFault({ on: 'create', kind: 'code', code: 5001 });
		expect((await call(simulator, 'POST', EXPAND, { body: createBody() })).status).toBe(503);
		expect(simulator.acceptedCreates()).toBe(0);
		expect((await call(simulator, 'POST', EXPAND, { body: createBody() })).json.code).toBe(0);
		expect(simulator.acceptedCreates()).toBe(1);
	});

	it('drop: closes the socket before accepting anything', async () => {
		simulator.injectFault({ on: 'create', kind: 'drop' });
		await expect(call(simulator, 'POST', EXPAND, { body: createBody() })).rejects.toThrow();
		expect(simulator.acceptedCreates()).toBe(0);
		expect(simulator.tasks.size).toBe(0);
	});

	it('dropAfterAccept: bills the task, then closes the socket; the task is found by external_task_id', async () => {
		simulator.injectFault({ on: 'create', kind: 'dropAfterAccept' });
		await expect(
			call(simulator, 'POST', EXPAND, { body: createBody({ external_task_id: 'retry-me' }) }),
		).rejects.toThrow();
		expect(simulator.acceptedCreates()).toBe(1);
		expect(
			(await call(simulator, 'GET', `${EXPAND}/retry-me`)).json.data.task_info.external_task_id,
		).toBe('retry-me');
	});

	it('slow: accepts the create at once and answers after delayMs', async () => {
		simulator.injectFault({ on: 'create', kind: 'slow', delayMs: 300 });
		const pending = call(simulator, 'POST', EXPAND, { body: createBody() });
		await waitFor(() => simulator.tasks.size === 1, 200);
		const reply = await pending;
		expect(reply.elapsedMs).toBeGreaterThanOrEqual(290);
		expect(reply.json.code).toBe(0);
		expect(simulator.acceptedCreates()).toBe(1);
	});

	it('malformed: answers HTTP 200 with JSON that does not parse, unbilled', async () => {
		simulator.injectFault({ on: 'create', kind: 'malformed' });
		const reply = await call(simulator, 'POST', EXPAND, { body: createBody() });
		expect(reply.status).toBe(200);
		expect(() => JSON.parse(reply.text)).toThrow();
		expect(simulator.acceptedCreates()).toBe(0);
	});

	it("cometNull404: answers HTTP 200 with CometAPI's {code: null, message: '404'}", async () => {
		simulator.injectFault({ on: 'create', kind: 'cometNull404' });
		const reply = await call(simulator, 'POST', `/kling${EXPAND}`, {
			body: createBody(),
			token: KEYS.cometKey,
		});
		expect(reply.status).toBe(200);
		expect(reply.json).toEqual({ code: null, message: '404' });
		expect(simulator.acceptedCreates()).toBe(0);
	});

	it('hits only matching operations, `times` times, in injection order', async () => {
		simulator.injectFault({ on: 'query', kind: 'code', code: 5000, times: 2 });
		simulator.injectFault({ on: 'any', kind: 'code', code: 5002 });
		expect((await call(simulator, 'GET', EXPAND)).json.code).toBe(5002);
		const codes = [];
		for (let i = 0; i < 3; i++) codes.push((await call(simulator, 'GET', `${EXPAND}/x`)).json.code);
		expect(codes).toEqual([5000, 5000, 1203]);
		expect(simulator.stats().faultsInjected).toBe(3);
	});

	it('draws random faults deterministically from the seed', async () => {
		const run = async (seed: number) => {
			simulator.reset();
			simulator.setRandomFaults({
				rate: 0.5,
				on: ['list'],
				kinds: ['code', 'malformed', 'cometNull404'],
				seed,
			});
			const outcomes: string[] = [];
			for (let i = 0; i < 20; i++) {
				const reply = await call(simulator, 'GET', EXPAND);
				outcomes.push(`${reply.status}:${reply.json?.code}`);
			}
			return outcomes;
		};
		const first = await run(42);
		expect(await run(42)).toEqual(first);
		expect(await run(43)).not.toEqual(first);
		expect(first.filter((outcome) => outcome !== '200:0').length).toBeGreaterThan(3);
		expect(first.filter((outcome) => outcome === '200:0').length).toBeGreaterThan(3);
	});
});

describe('callbacks', () => {
	const secret = KEYS.webhookSecret;
	let peer: Awaited<ReturnType<typeof startPeer>>;
	beforeAll(async () => {
		peer = await startPeer();
	});
	afterEach(() => void (peer.received.length = 0));
	afterAll(() => peer.close());

	const statuses = () =>
		peer.received.map(({ rawBody }) => JSON.parse(rawBody).task_status as string);

	it('matches the Standard Webhooks reference vector', () => {
		const signature = signStandardWebhook(
			'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
			'msg_p5jXN8AQM9LWM0D4loKWxJek',
			1614265330,
			'{"test": 2432232314}',
		);
		expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
	});

	it('posts the task on each status change, signed so the receiver can verify it', async () => {
		const simulator = await simulatorWith({ webhookSecret: secret });
		const created = await call(simulator, 'POST', EXPAND, {
			body: createBody({ callback_url: `${peer.url}/hook` }),
		});
		await waitFor(() => peer.received.length === 3);
		expect(statuses()).toEqual(['submitted', 'processing', 'succeed']);
		for (const { headers, rawBody } of peer.received) {
			expect(headers['content-type']).toBe('application/json');
			const expected = signStandardWebhook(
				secret,
				String(headers['webhook-id']),
				String(headers['webhook-timestamp']),
				rawBody,
			);
			expect(headers['webhook-signature']).toBe(expected);
			expect(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
		}
		const last = JSON.parse(peer.received[2].rawBody);
		expect(last).toEqual(
			(await call(simulator, 'GET', `${EXPAND}/${created.json.data.task_id}`)).json.data,
		);
		await waitFor(() => simulator.callbackDeliveries.length === 3);
		expect(simulator.callbackDeliveries.map((delivery) => delivery.status)).toEqual([
			204, 204, 204,
		]);
	});

	it('duplicate mode sends every delivery twice with the same webhook-id', async () => {
		const simulator = await simulatorWith({ webhookSecret: secret, callbackMode: 'duplicate' });
		await call(simulator, 'POST', EXPAND, { body: createBody({ callback_url: peer.url }) });
		await waitFor(() => peer.received.length === 6);
		expect(statuses()).toEqual([
			'submitted',
			'submitted',
			'processing',
			'processing',
			'succeed',
			'succeed',
		]);
		const ids = peer.received.map(({ headers }) => headers['webhook-id']);
		expect([ids[0] === ids[1], ids[2] === ids[3], ids[4] === ids[5], ids[0] === ids[2]]).toEqual([
			true,
			true,
			true,
			false,
		]);
	});

	it('outOfOrder mode delivers the terminal status before processing', async () => {
		const simulator = await simulatorWith({ callbackMode: 'outOfOrder' });
		await call(simulator, 'POST', EXPAND, { body: createBody({ callback_url: peer.url }) });
		await waitFor(() => peer.received.length === 3);
		expect(statuses()).toEqual(['submitted', 'succeed', 'processing']);
		expect(peer.received[0].headers['webhook-signature']).toBeUndefined();
	});

	it('records failed deliveries and keeps working when the receiver is down', async () => {
		const gone = await startPeer();
		await gone.close();
		const simulator = await simulatorWith({ webhookSecret: secret });
		const created = await call(simulator, 'POST', EXPAND, {
			body: createBody({ callback_url: gone.url }),
		});
		await waitForStatus(simulator, created.json.data.task_id, 'succeed');
		await waitFor(() => simulator.callbackDeliveries.length === 3);
		expect(simulator.callbackDeliveries.every((delivery) => delivery.status === 'error')).toBe(
			true,
		);
		expect((await call(simulator, 'GET', EXPAND)).json.code).toBe(0);
	});
});
