import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Container } from '@n8n/di';
import { BinaryDataConfig, BinaryDataService } from 'n8n-core';
import type { INodeExecutionData } from 'n8n-workflow';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runWorkflow } from '../../../harness/engine';
import { motionPhotoVideo, testImage, useSimulator } from '../../../harness/fixtures';
import {
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_DOWN_RATIOS,
} from '../../../harness/workflows';

/*
 * n8n's filesystem binary mode: the node streams a stored file (n8n reads no range), keeping its
 * last bytes and looking for a JPEG's end marker in that one pass.
 */

const simulator = useSimulator();
const storage = mkdtempSync(join(tmpdir(), 'kling-stored-'));
const service = Container.get(BinaryDataService);

beforeAll(async () => {
	const config = Container.get(BinaryDataConfig);
	config.mode = 'filesystem';
	config.localStoragePath = storage;
	await service.init();
});
afterAll(() => rmSync(storage, { recursive: true, force: true }));

async function storedItem(bytes: Buffer): Promise<INodeExecutionData> {
	const data = await service.store(
		{ type: 'execution', workflowId: 'stored-images', executionId: '1' },
		bytes,
		{ data: '', mimeType: 'image/jpeg', fileName: 'motion.jpg' },
	);
	expect(data.id).toMatch(/^filesystem/);
	return { json: {}, binary: { data } };
}

async function submit(items: INodeExecutionData[]) {
	const sim = simulator();
	return await runWorkflow(
		expandWorkflow({ operation: 'submit', imageSource: 'binary', ...UP_DOWN_RATIOS } as never),
		{ startNode: EXPAND_NODE, input: items, credentials: simulatorCredentials(sim.url) },
	);
}

describe('a stored JPEG (filesystem mode) is checked to its end marker in one pass', () => {
	it('takes a JPEG followed by 1 MB of video, and sends it', async () => {
		const sim = simulator();
		const jpeg = await testImage(400, 300, 'jpeg');
		const result = await submit([await storedItem(Buffer.concat([jpeg, motionPhotoVideo()]))]);
		expect(result.error).toBeUndefined();
		expect(sim.stats().creates).toBe(1);
	});

	it('refuses a JPEG cut short with 1 MB after the cut, reading the file once past its head: 0 creates', async () => {
		const sim = simulator();
		const jpeg = await testImage(400, 300, 'jpeg');
		const cut = Buffer.concat([jpeg.subarray(0, jpeg.length - 100), motionPhotoVideo()]);
		const item = await storedItem(cut);
		const streams = jest.spyOn(service, 'getAsStream');
		try {
			const result = await submit([item]);
			expect(String(result.error?.message)).toMatch(
				new RegExp(
					`^Input binary field "data" is ${cut.length} bytes; a JPEG must reach its end marker ` +
						'\\(EOI, FF D9\\) after its image data',
				),
			);
			// The head (stopped after 64 KB), then one pass that keeps the tail and scans for the end.
			expect(streams).toHaveBeenCalledTimes(2);
		} finally {
			streams.mockRestore();
		}
		expect(sim.requests).toHaveLength(0);
		expect(sim.stats().creates).toBe(0);
	});
});
