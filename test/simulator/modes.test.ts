import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import {
	makeTestImage,
	SIMULATOR_DEFAULT_KEYS,
	startSimulator,
	type ExternalIdLookup,
	type Simulator,
} from './index';

/** The switchable behaviours, seen from the wire: lookup forms, redirects, trickles, modes restored by reset. */
const EXPAND = '/v1/images/editing/expand';
let simulator: Simulator;
beforeAll(async () => {
	simulator = await startSimulator({ taskDurationMs: 50 });
});
beforeEach(() => simulator.reset());
afterAll(async () => await simulator.close());

async function get(
	path: string,
): Promise<{ status: number; json: { code: number; data: unknown }; headers: Headers }> {
	const response = await fetch(simulator.url + path, {
		headers: { authorization: `Bearer ${SIMULATOR_DEFAULT_KEYS.apiKey}` },
		redirect: 'manual',
	});
	const text = await response.text();
	return {
		status: response.status,
		json: text.startsWith('{') ? JSON.parse(text) : { code: -1, data: text },
		headers: response.headers,
	};
}

async function create(externalTaskId: string): Promise<string> {
	const image = (await makeTestImage({ width: 400, height: 300, format: 'png' })).toString(
		'base64',
	);
	const response = await fetch(simulator.url + EXPAND, {
		method: 'POST',
		headers: {
			authorization: `Bearer ${SIMULATOR_DEFAULT_KEYS.apiKey}`,
			'content-type': 'application/json',
		},
		body: JSON.stringify({
			image,
			up_expansion_ratio: 0.5,
			down_expansion_ratio: 0,
			left_expansion_ratio: 0,
			right_expansion_ratio: 0,
			external_task_id: externalTaskId,
		}),
	});
	return ((await response.json()) as { data: { task_id: string } }).data.task_id;
}

describe('external-id lookup modes', () => {
	it.each<[ExternalIdLookup, [number, number, 'all' | 'one']]>([
		['path', [0, 0, 'all']],
		['pathFlag', [1203, 0, 'all']],
		['collection', [1203, 1203, 'one']],
	])('%s: which forms answer', async (mode, [plain, flagged, listed]) => {
		const taskId = await create('ext-1');
		await create('ext-2');
		simulator.setModes({ externalIdLookup: mode });
		expect((await get(`${EXPAND}/ext-1`)).json.code).toBe(plain);
		expect((await get(`${EXPAND}/ext-1?external_task_id=true`)).json.code).toBe(flagged);
		const list = (await get(`${EXPAND}?external_task_id=ext-1`)).json.data as Array<{
			task_id: string;
		}>;
		expect(listed === 'one' ? list.map((task) => task.task_id) : list).toEqual(
			listed === 'one'
				? [taskId]
				: expect.arrayContaining([expect.objectContaining({ task_id: taskId })]),
		);
		if (listed === 'all') expect(list).toHaveLength(2);
		// A task_id is always found on the path.
		expect((await get(`${EXPAND}/${taskId}`)).json.code).toBe(0);
	});

	it('reset() restores the modes the simulator started with', async () => {
		await create('ext-3');
		simulator.setModes({ externalIdLookup: 'collection' });
		simulator.reset();
		await create('ext-3');
		expect((await get(`${EXPAND}/ext-3`)).json.code).toBe(0);
	});
});

describe('faults at the boundary', () => {
	it('redirect: a 301 to an HTML sign-in page, which the simulator serves', async () => {
		simulator.injectFault({ on: 'list', kind: 'redirect' });
		const answer = await get(EXPAND);
		expect(answer.status).toBe(301);
		const location = answer.headers.get('location')!;
		expect(location).toMatch(/^http:\/\/admin:hunter2@127\.0\.0\.1:\d+\/login\?/);
		const page = await fetch(location.replace('admin:hunter2@', ''));
		expect([page.status, page.headers.get('content-type')]).toEqual([
			200,
			'text/html; charset=utf-8',
		]);
		expect(simulator.tasks.size).toBe(0);
	});

	it('trickle: headers at once, the body byte by byte, and a record of who hung up', async () => {
		simulator.injectFault({ on: 'list', kind: 'trickle', bytesPerSecond: 20 });
		const controller = new AbortController();
		const response = await fetch(simulator.url + EXPAND, {
			headers: { authorization: `Bearer ${SIMULATOR_DEFAULT_KEYS.apiKey}` },
			signal: controller.signal,
		});
		expect(response.status).toBe(200);
		const reader = response.body!.getReader();
		const first = await reader.read();
		expect(first.value!.length).toBe(1);
		controller.abort();
		await new Promise((resolve) => setTimeout(resolve, 200));
		expect(simulator.trickles).toEqual([
			expect.objectContaining({ path: EXPAND, cutByClient: true, bytesSent: expect.any(Number) }),
		]);
		expect(simulator.trickles[0].bytesSent).toBeLessThan(10);
	});
});
