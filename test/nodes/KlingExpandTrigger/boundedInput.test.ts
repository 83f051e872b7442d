import type { IDataObject } from 'n8n-workflow';

import { collectGarbage } from '../../bench/memory';
import { capturedLogs } from '../../harness/engine';
import type { WebhookServer } from '../../harness/webhooks';
import { serveTrigger, TRIGGER_NODE, triggerWorkflow } from '../../harness/webhooks';
import {
	MAX_CALLBACK_BYTES,
	UNKNOWN_FIELD_LIMITS,
} from '../../../nodes/KlingExpandTrigger/helpers/parseCallback';

/*
 * Whatever is posted to an open trigger (Verification: None), what it keeps is bounded: the
 * delivery keys in static data, the process's memory, the run's items.
 */

const MB = 1024 * 1024;
const servers: WebhookServer[] = [];
afterEach(async () => {
	await Promise.all(servers.splice(0).map(async (server) => await server.close()));
});

let nodeCount = 0;
async function serveOpen(): Promise<WebhookServer> {
	const server = await serveTrigger(
		triggerWorkflow(
			{ verification: 'none', statuses: ['submitted', 'processing', 'succeed', 'failed'] },
			{ typeVersion: 2, id: `open-trigger-${++nodeCount}` },
		),
		TRIGGER_NODE,
		{},
	);
	servers.push(server);
	return server;
}

async function post(
	server: WebhookServer,
	body: string,
): Promise<{ status: number; text: string }> {
	const response = await fetch(server.url, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body,
		signal: AbortSignal.timeout(30_000),
	});
	return { status: response.status, text: await response.text() };
}

const taskBody = (taskId: string, extra: IDataObject = {}) =>
	JSON.stringify({
		task_id: taskId,
		task_status: 'succeed',
		task_info: { external_task_id: 'n8n-1-ab12cd34-0-0' },
		task_result: { images: [{ index: 0, url: 'https://cdn.example/a.png' }] },
		...extra,
	});

const staticDataSize = (server: WebhookServer) => JSON.stringify(server.savedStaticData()).length;

/** Live heap plus Buffers after a full collection, in MB. */
async function retainedMb(): Promise<number> {
	collectGarbage();
	await new Promise((resolve) => setImmediate(resolve));
	collectGarbage();
	const { heapUsed, external } = process.memoryUsage();
	return (heapUsed + external) / MB;
}

describe('task ids of Kling’s shape and length only', () => {
	it('refuses 20 MB task ids (413, no run) and keeps nothing of them: static data and memory unchanged', async () => {
		const server = await serveOpen();
		expect((await post(server, taskBody('867283741759111202'))).status).toBe(200);
		await server.settled();
		const staticBefore = staticDataSize(server);
		const logsFrom = capturedLogs.length;
		const before = await retainedMb();

		const answers: Array<{ status: number; text: string }> = [];
		for (let repeat = 0; repeat < 3; repeat++)
			answers.push(await post(server, taskBody(String(repeat).repeat(20 * MB))));
		// The HTTP client keeps its last request until the next one: a small one releases it.
		expect((await post(server, taskBody('867283741759111299'))).status).toBe(200);
		await server.settled();
		const after = await retainedMb();

		for (const answer of answers) {
			expect(answer.status).toBe(413);
			expect(answer.text).toMatch(/the body is 20\.0 MB; a Kling callback is at most 256 KB/);
		}
		expect(server.runs).toHaveLength(2);
		expect(staticDataSize(server)).toBe(staticBefore + '"867283741759111299:succeed",'.length);
		// Keeping the ids anywhere (static data, the delivery memory, a run) would keep ≥ 60 MB alive;
		// the margin is for the test's own HTTP client and a busy collector (one body at most).
		expect(after - before).toBeLessThan(25);
		const logged = capturedLogs.slice(logsFrom).join('\n');
		expect(logged).toMatch(/refused a callback \(HTTP 413\)/);
		expect(logged.length).toBeLessThan(2000);
	}, 60_000);

	it('40 posts of 4 MB task ids start nothing and do not grow static data', async () => {
		const server = await serveOpen();
		expect((await post(server, taskBody('867283741759111203'))).status).toBe(200);
		await server.settled();
		const staticBefore = staticDataSize(server);
		const before = await retainedMb();
		const statuses: number[] = [];
		for (let post4 = 0; post4 < 40; post4++)
			statuses.push(
				(await post(server, taskBody(String(post4 % 10).repeat(4 * MB), { n: post4 }))).status,
			);
		await post(server, '{}');
		await server.settled();
		const after = await retainedMb();
		expect(new Set(statuses)).toEqual(new Set([413]));
		expect(server.runs).toHaveLength(1);
		expect(staticDataSize(server)).toBe(staticBefore);
		// 160 MB posted; keeping the ids would keep as much. The margin is one 4 MB body and the GC.
		expect(after - before).toBeLessThan(8);
	}, 120_000);

	it('refuses, naming task_id and the rule, an id under the size cap that is too long or not of Kling’s alphabet', async () => {
		const server = await serveOpen();
		const tooLong = await post(server, taskBody('7'.repeat(129)));
		const notAnId = await post(server, taskBody('../../etc/passwd'));
		await server.settled();
		expect(tooLong.status).toBe(400);
		expect(tooLong.text).toContain(
			'task_id is 129 characters long (\\"77777777777777777777\\"…); a Kling task id is 1 to 128 letters, digits, \\"_\\" or \\"-\\"',
		);
		expect(notAnId.status).toBe(400);
		expect(notAnId.text).toContain('task_id is \\"../../etc/passwd\\"; a Kling task id');
		expect(server.runs).toHaveLength(0);
		expect(staticDataSize(server)).toBeLessThan(100);
	});

	it('accepts Kling’s numeric ids, the console’s test_… id and a 128-character id', async () => {
		const server = await serveOpen();
		for (const id of ['867283741759111202', `test_${'a1'.repeat(16)}`, 'x'.repeat(128)])
			expect((await post(server, taskBody(id))).status).toBe(200);
		await server.settled();
		expect(server.runs.map((run) => run.output(TRIGGER_NODE)[0].json.task_id)).toEqual([
			'867283741759111202',
			`test_${'a1'.repeat(16)}`,
			'x'.repeat(128),
		]);
	});
});

describe('unknown and over-long fields', () => {
	it('drops an unknown field over the limit and names it in dropped_fields; small ones are kept', async () => {
		const server = await serveOpen();
		const large = 'z'.repeat(100_000);
		const answer = await post(
			server,
			taskBody('867283741759111204', { billing: { units: 8 }, blob: large }),
		);
		await server.settled();
		expect(answer.status).toBe(200);
		const [item] = server.runs[0].output(TRIGGER_NODE);
		expect(item.json.billing).toEqual({ units: 8 });
		expect(item.json.blob).toBeUndefined();
		expect(item.json.dropped_fields).toEqual([
			`"blob" (an unknown field over ${UNKNOWN_FIELD_LIMITS.each} characters, or past ` +
				`${UNKNOWN_FIELD_LIMITS.total} for all unknown fields)`,
		]);
		expect(JSON.stringify(item.json).length).toBeLessThan(2000);
	});

	it('keeps unknown fields up to the total, then drops the rest', async () => {
		const server = await serveOpen();
		const fields = Object.fromEntries(
			Array.from({ length: 8 }, (_, index) => [`extra${index}`, 'q'.repeat(3000)]),
		);
		await post(server, taskBody('867283741759111205', fields));
		await server.settled();
		const json = server.runs[0].output(TRIGGER_NODE)[0].json;
		const kept = Object.keys(json).filter((key) => key.startsWith('extra'));
		expect(kept).toEqual(['extra0', 'extra1', 'extra2', 'extra3', 'extra4']);
		expect(json.dropped_fields).toHaveLength(3);
	});

	it('drops an external_task_id over 128 characters and cuts a long failure reason, saying so', async () => {
		const server = await serveOpen();
		await post(
			server,
			JSON.stringify({
				task_id: '867283741759111206',
				task_status: 'failed',
				task_status_msg: 'm'.repeat(5000),
				task_info: { external_task_id: 'e'.repeat(200_000) },
			}),
		);
		await server.settled();
		const json = server.runs[0].output(TRIGGER_NODE)[0].json;
		expect(json.external_task_id).toBeUndefined();
		expect(json.task_info).toBeUndefined();
		expect(json.task_status_msg).toHaveLength(1001);
		expect(json.dropped_fields).toEqual([
			'external_task_id (200000 characters; at most 128 kept)',
			'task_status_msg cut to 1000 of 5000 characters',
		]);
	});

	it('reads a body just under the size cap', async () => {
		const server = await serveOpen();
		const filler = 'f'.repeat(MAX_CALLBACK_BYTES - 400);
		const answer = await post(server, taskBody('867283741759111207', { filler }));
		await server.settled();
		expect(answer.status).toBe(200);
		expect(server.runs[0].output(TRIGGER_NODE)[0].json.dropped_fields).toHaveLength(1);
	});
});
