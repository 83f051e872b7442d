import { randomBytes } from 'node:crypto';

import {
	base64Length,
	jsonBodyBytes,
	streamedBase64,
	writeBase64,
} from '../../../../nodes/shared/transport/jsonBody';

/** A file's base64 read as a stream of pieces of `piece` bytes, as a stored binary is. */
const streamed = (bytes: Buffer, piece: number) =>
	streamedBase64(bytes.length, async () =>
		(async function* () {
			for (let start = 0; start < bytes.length; start += piece)
				yield bytes.subarray(start, start + piece);
		})(),
	);

describe('writeBase64', () => {
	it('encodes a file read in pieces of any size exactly as one toString("base64") would', () => {
		for (const size of [0, 1, 2, 3, 100_000, 100_001, 100_002]) {
			const bytes = randomBytes(size);
			for (const piece of [1, 7, 4096, 65_537]) {
				const target = Buffer.alloc(base64Length(size));
				let position = 0;
				let carry: Buffer = Buffer.alloc(0);
				for (let start = 0; start < size; start += piece) {
					({ offset: position, rest: carry } = writeBase64(
						target,
						position,
						Buffer.concat([carry, bytes.subarray(start, start + piece)]),
						false,
					));
				}
				writeBase64(target, position, carry, true);
				expect(target.toString('latin1')).toBe(bytes.toString('base64'));
			}
		}
	});
});

describe('jsonBodyBytes', () => {
	it('writes the body as JSON with the image in place, the same bytes JSON.stringify would give', async () => {
		const image = randomBytes(200_003);
		const body = {
			image: streamed(image, 10_000),
			prompt: 'a café at dusk, "quoted" \\ and \u0000',
			n: 2,
			external_task_id: 'n8n-1-a-0',
		};
		const bytes = await jsonBodyBytes(body);
		expect(bytes!.toString('utf8')).toBe(
			JSON.stringify({ ...body, image: image.toString('base64') }),
		);
	});

	it('refuses a stored file whose size changed since it was checked, rather than send a broken image', async () => {
		const value = streamedBase64(10, async () =>
			(async function* () {
				yield Buffer.alloc(12);
			})(),
		);
		await expect(jsonBodyBytes({ image: value })).rejects.toThrow('changed size');
	});

	it('leaves a body without an image to be sent as an object', async () => {
		expect(await jsonBodyBytes({ n: 1 })).toBeUndefined();
	});

	it('refuses to be serialised any other way than into the body bytes', () => {
		expect(() => JSON.stringify({ image: streamed(Buffer.from('abc'), 1) })).toThrow(
			'A Base64Value is written by jsonBodyBytes',
		);
	});
});
