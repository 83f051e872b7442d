import { crc32 } from 'node:zlib';

import type { INodeExecutionData } from 'n8n-workflow';

import { runWorkflow } from '../../../harness/engine';
import { motionPhotoVideo, testImage, useSimulator } from '../../../harness/fixtures';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_DOWN_RATIOS,
} from '../../../harness/workflows';

/*
 * Images whose header reads well but that Kling cannot take: refused before any request, with the
 * field, the value and the rule.
 */

const simulator = useSimulator();

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG chunk with its length and CRC. */
function chunk(type: string, data: Buffer = Buffer.alloc(0)): Buffer {
	const head = Buffer.alloc(8);
	head.writeUInt32BE(data.length, 0);
	head.write(type, 4, 'latin1');
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
	return Buffer.concat([head, data, crc]);
}

function ihdr(width: number, height: number): Buffer {
	const data = Buffer.alloc(13);
	data.writeUInt32BE(width, 0);
	data.writeUInt32BE(height, 4);
	data.set([8, 2, 0, 0, 0], 8);
	return chunk('IHDR', data);
}

/** A real PNG's chunks after IHDR (its IDAT and IEND). */
const afterIhdr = (png: Buffer) => png.subarray(PNG_SIGNATURE.length + 25);

/** A real JPEG whose frame header (SOF0) states another size. */
function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
	const copy = Buffer.from(jpeg);
	const sof = copy.indexOf(Buffer.from([0xff, 0xc0]));
	copy.writeUInt16BE(height, sof + 5);
	copy.writeUInt16BE(width, sof + 7);
	return copy;
}

async function submitBinary(bytes: Buffer, fileName = 'photo.png') {
	const sim = simulator();
	return await runWorkflow(
		expandWorkflow({ operation: 'submit', imageSource: 'binary', ...UP_DOWN_RATIOS } as never),
		{
			startNode: EXPAND_NODE,
			input: [binaryItem(bytes, fileName)],
			credentials: simulatorCredentials(sim.url),
		},
	);
}

describe('images Kling cannot take are refused before paying', () => {
	const cases: Array<[string, () => Promise<Buffer>, RegExp]> = [
		[
			'a PNG header claiming 100000 × 100000 px',
			async () =>
				Buffer.concat([PNG_SIGNATURE, ihdr(100000, 100000), afterIhdr(await testImage())]),
			/Input binary field "data" is 100000×100000 px; width and height must each be at most 16384 px/,
		],
		[
			'a PNG header claiming 12000 × 9000 px (108 megapixels)',
			async () => Buffer.concat([PNG_SIGNATURE, ihdr(12000, 9000), afterIhdr(await testImage())]),
			/is 12000×9000 px \(108\.0 megapixels\); the image may have at most 89\.5 megapixels/,
		],
		[
			'a PNG header without pixel data (then its end)',
			async () => Buffer.concat([PNG_SIGNATURE, ihdr(1000, 800), chunk('IEND')]),
			/is 45 bytes; a PNG must hold image data \(an IDAT chunk\), and this one has none before its end/,
		],
		[
			'a PNG header alone',
			async () => Buffer.concat([PNG_SIGNATURE, ihdr(1000, 800)]),
			/is 33 bytes; a PNG must hold image data \(an IDAT chunk\), and this one has none/,
		],
		[
			'a PNG cut short before its IEND',
			async () => {
				const png = await testImage(400, 300);
				return png.subarray(0, png.length - 20);
			},
			/a PNG must end with its IEND chunk, and none is in its last \d+ bytes/,
		],
		[
			'a JPEG claiming 65535 × 65535 px',
			async () => jpegClaiming(await testImage(400, 300, 'jpeg'), 65535, 65535),
			/is 65535×65535 px; width and height must each be at most 16384 px/,
		],
		[
			'a JPEG cut short before its end marker (EOI)',
			async () => {
				const jpeg = await testImage(400, 300, 'jpeg');
				return jpeg.subarray(0, jpeg.length - 100);
			},
			/a JPEG must reach its end marker \(EOI, FF D9\) after its image data, and none follows it/,
		],
	];

	it.each(cases)(
		'refuses %s: 0 creates, the error names the field, the value and the rule',
		async (_name, bytes, message) => {
			const sim = simulator();
			const result = await submitBinary(await bytes());
			expect(result.error).toMatchObject({
				name: 'NodeOperationError',
				message: expect.stringMatching(message),
			});
			expect(sim.requests).toHaveLength(0);
			expect(sim.stats().creates).toBe(0);
		},
	);

	it('refuses the same images given as Image (Base64)', async () => {
		const sim = simulator();
		const jpeg = await testImage(400, 300, 'jpeg');
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'base64',
				imageBase64: jpeg.subarray(0, jpeg.length - 100).toString('base64'),
				...UP_DOWN_RATIOS,
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [{ json: {} }],
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(String(result.error?.message)).toMatch(
			/^Image \(Base64\) is \d+ bytes; a JPEG must reach its end marker/,
		);
		expect(sim.stats().creates).toBe(0);
	});

	it('takes whole images of every base64 length, and a JPEG with a little data after its end', async () => {
		const sim = simulator();
		const png = await testImage(400, 300);
		const images = [
			png,
			// Decoders ignore a byte or two after IEND; they shift the base64's alignment.
			Buffer.concat([png, Buffer.from([0])]),
			Buffer.concat([png, Buffer.from([0, 0])]),
			await testImage(400, 300, 'jpeg'),
			Buffer.concat([await testImage(500, 300, 'jpeg'), Buffer.from('camera trailer')]),
		];
		// The three lengths mod 3 are all covered, so the tail is decoded from every alignment.
		expect(new Set(images.map((image) => image.length % 3)).size).toBe(3);
		const input: INodeExecutionData[] = images.map((image) => binaryItem(image));
		const result = await runWorkflow(
			expandWorkflow({ operation: 'submit', imageSource: 'binary', ...UP_DOWN_RATIOS } as never),
			{ startNode: EXPAND_NODE, input, credentials: simulatorCredentials(sim.url) },
		);
		expect(result.error).toBeUndefined();
		expect(sim.stats().creates).toBe(images.length);
	});
});

/** Bytes from a seeded generator (mulberry32), so a failure can be replayed. */
function randomBytes(length: number, seed: number): Buffer {
	const bytes = Buffer.alloc(length);
	let state = seed;
	for (let at = 0; at < length; at++) {
		state = (state + 0x6d2b79f5) | 0;
		let t = Math.imul(state ^ (state >>> 15), 1 | state);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		bytes[at] = (t ^ (t >>> 14)) & 0xff;
	}
	return bytes;
}

/** Where a JPEG's entropy-coded data starts: after its first SOS segment (sharp writes one). */
function scanStart(jpeg: Buffer): number {
	const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
	return sos + 2 + jpeg.readUInt16BE(sos + 2);
}

async function submitBase64(bytes: Buffer) {
	const sim = simulator();
	return await runWorkflow(
		expandWorkflow({
			operation: 'submit',
			imageSource: 'base64',
			imageBase64: bytes.toString('base64'),
			...UP_DOWN_RATIOS,
		} as never),
		{ startNode: EXPAND_NODE, input: [{ json: {} }], credentials: simulatorCredentials(sim.url) },
	);
}

describe('a JPEG that reaches its end marker is taken whatever follows it', () => {
	it('takes JPEGs followed by 1 MB (a motion photo’s video, random bytes), as binary and as Base64', async () => {
		const sim = simulator();
		const jpeg = await testImage(400, 300, 'jpeg');
		const video = motionPhotoVideo();
		expect(video.indexOf(Buffer.from([0xff, 0xd9]))).toBe(-1);
		const images = [
			Buffer.concat([jpeg, video]),
			Buffer.concat([jpeg, randomBytes(1024 * 1024, 23)]),
			// One byte more shifts the base64 text's alignment against the file's bytes.
			Buffer.concat([jpeg, Buffer.from([0x42]), video]),
		];
		const result = await runWorkflow(
			expandWorkflow({ operation: 'submit', imageSource: 'binary', ...UP_DOWN_RATIOS } as never),
			{
				startNode: EXPAND_NODE,
				input: images.map((image) => binaryItem(image, 'motion.jpg')),
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(result.error).toBeUndefined();
		expect(sim.stats().creates).toBe(images.length);

		const fromBase64 = await submitBase64(Buffer.concat([jpeg, video]));
		expect(fromBase64.error).toBeUndefined();
		expect(sim.stats().creates).toBe(images.length + 1);
	});

	it('finds an end marker split between two of the pieces base64 text is decoded in', async () => {
		const sim = simulator();
		const jpeg = await testImage(400, 300, 'jpeg');
		// The text is decoded in pieces of 262146 bytes from the scan start rounded down to 3 bytes;
		// 0xFF fill bytes before the marker (T.81 B.1.1.2) put its FF last in the first piece.
		const piecesFrom = Math.floor(scanStart(jpeg) / 3) * 3;
		const ffAt = piecesFrom + 262146 - 1;
		const fill = Buffer.alloc(ffAt - (jpeg.length - 2), 0xff);
		const image = Buffer.concat([
			jpeg.subarray(0, jpeg.length - 2),
			fill,
			jpeg.subarray(-2),
			motionPhotoVideo(),
		]);
		expect(image.subarray(ffAt, ffAt + 2)).toEqual(Buffer.from([0xff, 0xd9]));
		const result = await submitBinary(image, 'motion.jpg');
		expect(result.error).toBeUndefined();
		expect(sim.stats().creates).toBe(1);
	});

	it('still refuses a JPEG cut short, with 1 MB after the cut, as binary and as Base64: 0 creates', async () => {
		const sim = simulator();
		const jpeg = await testImage(400, 300, 'jpeg');
		const cut = Buffer.concat([jpeg.subarray(0, jpeg.length - 100), motionPhotoVideo()]);
		const rule = /a JPEG must reach its end marker \(EOI, FF D9\) after its image data/;
		expect(String((await submitBinary(cut, 'motion.jpg')).error?.message)).toMatch(
			new RegExp(`^Input binary field "data" is ${cut.length} bytes; ${rule.source}`),
		);
		expect(String((await submitBase64(cut)).error?.message)).toMatch(
			new RegExp(`^Image \\(Base64\\) is ${cut.length} bytes; ${rule.source}`),
		);
		expect(sim.requests).toHaveLength(0);
		expect(sim.stats().creates).toBe(0);
	});
});
