import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import sharp, { type Sharp } from 'sharp';
import { crc32 as zlibCrc32 } from 'zlib';

import {
	detectImageFormat,
	ImageHeaderError,
	imageEndProblem,
	type ImageFormat,
	type ImageInfo,
	JpegEndFinder,
	jpegScanStart,
	readImageHeader,
} from '../../../nodes/shared/imageHeader';

interface Fixture {
	label: string;
	bytes: Buffer;
	expected: ImageInfo;
	/** Smallest prefix length that `readImageHeader` accepts; checked independently below. */
	headerEnd: number;
	/** Facts about the encoded file, used to prove the sample really is varied. */
	traits: string[];
}

type Outcome = { ok: true; info: ImageInfo } | { ok: false; error: ImageHeaderError };

const SHARP_FIXTURE_COUNT = 240;
const RUNS = 1000;
const SOF_MARKERS = [0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf];

/** Deterministic fixtures: a failure names a label that reproduces on the next run. */
function mulberry32(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function infoFor(format: ImageFormat, width: number, height: number): ImageInfo {
	return format === 'png'
		? { format, width, height, mimeType: 'image/png', extension: 'png' }
		: { format, width, height, mimeType: 'image/jpeg', extension: 'jpg' };
}

/** What the parser made of the bytes: 'accepted' or the error's reason. */
function reasonOf(bytes: Uint8Array): string {
	const result = outcome(bytes);
	return result.ok ? 'accepted' : result.error.reason;
}

/** Wraps bytes so that reading an index outside them fails the test instead of yielding undefined. */
function boundsChecked(bytes: Uint8Array): Uint8Array {
	return new Proxy(bytes, {
		get(target, property) {
			if (typeof property === 'string') {
				const index = Number(property);
				if (Number.isInteger(index) && (index < 0 || index >= target.length)) {
					throw new Error(`read index ${index} of a ${target.length}-byte input`);
				}
			}
			const value: unknown = Reflect.get(target, property, target);
			return typeof value === 'function' ? value.bind(target) : value;
		},
	});
}

/**
 * Runs the parser on bounds-checked bytes and fails the test on anything thrown that is not an
 * ImageHeaderError, an out-of-bounds read included.
 */
function outcome(
	bytes: Uint8Array,
	options: { checkBounds: boolean } = { checkBounds: true },
): Outcome {
	try {
		return { ok: true, info: readImageHeader(options.checkBounds ? boundsChecked(bytes) : bytes) };
	} catch (error) {
		if (error instanceof ImageHeaderError) return { ok: false, error };
		throw new Error(`readImageHeader threw a foreign error: ${String(error)}`);
	}
}

function expectWellFormed(info: ImageInfo): void {
	const limit = info.format === 'png' ? 0x7fffffff : 0xffff;
	expect(Number.isInteger(info.width) && info.width >= 1 && info.width <= limit).toBe(true);
	expect(Number.isInteger(info.height) && info.height >= 1 && info.height <= limit).toBe(true);
	expect(info).toEqual(infoFor(info.format, info.width, info.height));
}

function minimalHeaderLength(bytes: Uint8Array): number {
	let low = 0;
	let high = bytes.length;
	while (low < high) {
		const middle = (low + high) >> 1;
		if (outcome(bytes.subarray(0, middle)).ok) high = middle;
		else low = middle + 1;
	}
	return low;
}

function uint16(bytes: Uint8Array, at: number): number {
	return (bytes[at] << 8) | bytes[at + 1];
}

function segment(marker: number, payload: Uint8Array): Buffer {
	const head = Buffer.from([0xff, marker, 0, 0]);
	head.writeUInt16BE(payload.length + 2, 2);
	return Buffer.concat([head, payload]);
}

function afterSoi(jpeg: Buffer, ...inserted: Buffer[]): Buffer {
	return Buffer.concat([jpeg.subarray(0, 2), ...inserted, jpeg.subarray(2)]);
}

function pngHeader(
	width: number,
	height: number,
	options: { type?: string; crc?: number } = {},
): Buffer {
	const chunk = Buffer.alloc(25);
	chunk.writeUInt32BE(13, 0);
	chunk.write(options.type ?? 'IHDR', 4, 'latin1');
	chunk.writeUInt32BE(width, 8);
	chunk.writeUInt32BE(height, 12);
	chunk.set([8, 2, 0, 0, 0], 16);
	chunk.writeUInt32BE(options.crc ?? zlibCrc32(chunk.subarray(4, 21)), 21);
	return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk]);
}

function pngTraits(bytes: Buffer): string[] {
	const colourType = ['grey', '?', 'rgb', 'palette', 'grey+alpha', '?', 'rgba'][bytes[25]];
	return [
		`png:${colourType}`,
		`png:${bytes[24]}-bit`,
		bytes[28] ? 'png:interlaced' : 'png:straight',
	];
}

function jpegTraits(bytes: Buffer, space: string | undefined): string[] {
	const traits = [`jpeg:${space ?? 'unknown'}`];
	for (let at = 2; at + 3 < bytes.length; ) {
		const marker = bytes[at + 1];
		if (bytes[at] !== 0xff || marker === 0xda) break;
		if (marker === 0xe1) traits.push('jpeg:exif-or-xmp');
		if (marker === 0xe2) traits.push('jpeg:icc');
		if (marker === 0xc0) traits.push('jpeg:baseline');
		if (marker === 0xc2) traits.push('jpeg:progressive');
		at += 2 + uint16(bytes, at + 2);
	}
	return traits;
}

/** One random image spec and its encoding, drawn from the variety the node will meet. */
async function encodeRandomImage(
	index: number,
	random: () => number,
): Promise<{ label: string; bytes: Buffer }> {
	const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
	const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
	const side = () => {
		const roll = random();
		if (roll < 0.82) return between(1, 300);
		if (roll < 0.95) return between(301, 1500);
		return between(1501, 4000);
	};
	const edgeSizes: Array<[number, number]> = [
		[1, 1],
		[4000, 4000],
		[1, 4000],
		[4000, 1],
		[300, 300],
		[2, 1],
	];
	const [width, height] = edgeSizes[index] ?? [side(), side()];
	const channels = pick([3, 4] as const);

	let image: Sharp;
	// Pixel content does not matter to a header reader; noise on small images only keeps encoding fast.
	if (width * height <= 40_000) {
		const pixels = Buffer.alloc(width * height * channels);
		const smooth = random() < 0.5;
		for (let i = 0; i < pixels.length; i++) {
			pixels[i] = smooth
				? (i * 7 + Math.floor(i / (width * channels))) & 0xff
				: Math.floor(random() * 256);
		}
		image = sharp(pixels, { raw: { width, height, channels } });
	} else {
		const background = {
			r: between(0, 255),
			g: between(0, 255),
			b: between(0, 255),
			alpha: random(),
		};
		image = sharp({ create: { width, height, channels, background } });
	}

	const isPng = index % 2 === 0;
	const parts: string[] = [`#${index} ${width}x${height} ${channels}ch`];
	if (isPng) {
		const large = Math.max(width, height) > 1500;
		const kind = pick(['rgb', 'grey', 'grey16', 'rgb16', 'palette', 'palette', 'plain'] as const);
		if (kind === 'grey') image = image.toColourspace('b-w');
		if (kind === 'grey16') image = image.toColourspace('grey16');
		if (kind === 'rgb16') image = image.toColourspace('rgb16');
		const palette = kind === 'palette' && !large;
		const colours = pick([2, 4, 16, 256]);
		const metadata = pick([
			'none',
			'none',
			'withMetadata',
			'orientation',
			'icc-p3',
			'exif',
		] as const);
		if (metadata === 'withMetadata') image = image.withMetadata();
		if (metadata === 'orientation') image = image.withMetadata({ orientation: between(1, 8) });
		if (metadata === 'icc-p3') image = image.withIccProfile('p3');
		if (metadata === 'exif')
			image = image.withExif({ IFD0: { ImageDescription: 'fixture '.repeat(between(1, 200)) } });
		const progressive = random() < 0.35;
		image = image.png({
			progressive,
			compressionLevel: large ? 1 : between(0, 9),
			adaptiveFiltering: random() < 0.5,
			...(palette ? { palette: true, colours, dither: random(), effort: 1 } : {}),
		});
		parts.push(
			`png ${kind}${palette ? ` ${colours} colours` : ''} ${metadata}${progressive ? ' interlaced' : ''}`,
		);
	} else {
		const kind = pick(['colour', 'colour', 'grey', 'cmyk'] as const);
		if (kind === 'grey') image = image.toColourspace('b-w');
		if (kind === 'cmyk') image = image.toColourspace('cmyk');
		const metadata = pick([
			'none',
			'none',
			'withMetadata',
			'orientation',
			'icc-p3',
			'exif',
			'xmp',
		] as const);
		if (metadata === 'withMetadata') image = image.withMetadata();
		if (metadata === 'orientation') image = image.withMetadata({ orientation: between(1, 8) });
		if (metadata === 'icc-p3' && kind !== 'cmyk') image = image.withIccProfile('p3');
		if (metadata === 'exif')
			image = image.withExif({ IFD0: { ImageDescription: 'fixture '.repeat(between(1, 2000)) } });
		if (metadata === 'xmp')
			image = image.withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>');
		const mozjpeg = random() < 0.25;
		const progressive = mozjpeg || random() < 0.4;
		image = image.jpeg({
			quality: between(1, 100),
			progressive,
			mozjpeg,
			chromaSubsampling: pick(['4:2:0', '4:4:4']),
			optimiseCoding: random() < 0.7,
			trellisQuantisation: random() < 0.2,
			quantisationTable: between(0, 8),
		});
		parts.push(
			`jpeg ${kind} ${metadata}${progressive ? ' progressive' : ' baseline'}${mozjpeg ? ' mozjpeg' : ''}`,
		);
	}
	return { label: parts.join(' '), bytes: await image.toBuffer() };
}

async function fixtureFromSharp(label: string, bytes: Buffer): Promise<Fixture> {
	const metadata = await sharp(bytes).metadata();
	if (metadata.format !== 'png' && metadata.format !== 'jpeg') {
		throw new Error(`${label}: sharp reports format ${metadata.format}`);
	}
	return {
		label,
		bytes,
		expected: infoFor(metadata.format, metadata.width, metadata.height),
		headerEnd: minimalHeaderLength(bytes),
		traits: metadata.format === 'png' ? pngTraits(bytes) : jpegTraits(bytes, metadata.space),
	};
}

/** Structural variants sharp does not write but real files contain; each still opens in sharp. */
async function craftedJpegs(base: Buffer): Promise<Array<{ label: string; bytes: Buffer }>> {
	const thumbnail = await sharp({
		create: { width: 160, height: 120, channels: 3, background: '#808080' },
	})
		.jpeg()
		.toBuffer();
	// A minimal little-endian TIFF block (empty IFD0) followed by the thumbnail, like a camera's EXIF.
	const exifWithThumbnail = Buffer.concat([
		Buffer.from('Exif\0\0', 'latin1'),
		Buffer.from([
			0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		]),
		thumbnail,
	]);
	const hugeApp = segment(0xed, Buffer.alloc(65533, 0xff));
	return [
		{
			label: 'crafted: EXIF APP1 holding a thumbnail with its own SOF',
			bytes: afterSoi(base, segment(0xe1, exifWithThumbnail)),
		},
		{
			label: 'crafted: comment with 0xFF bytes in it',
			bytes: afterSoi(base, segment(0xfe, Buffer.from([0xff, 0xc0, 0xff, 0xd9, 0xff]))),
		},
		{
			label: 'crafted: fill bytes before a marker',
			bytes: afterSoi(base, Buffer.from([0xff, 0xff, 0xff, 0xff])),
		},
		{
			label: 'crafted: TEM and RST standalone markers',
			bytes: afterSoi(base, Buffer.from([0xff, 0x01, 0xff, 0xd0, 0xff, 0xd7])),
		},
		{
			label: 'crafted: stray bytes between segments',
			bytes: afterSoi(base, Buffer.from([0x00, 0x12, 0x34])),
		},
		{
			label: 'crafted: three full-size APP13 segments (SOF past 192 KB)',
			bytes: afterSoi(base, hugeApp, hugeApp, hugeApp),
		},
	];
}

const otherFormats: Array<{ name: RegExp; bytes: Buffer }> = [];
const fixtures: Fixture[] = [];

beforeAll(async () => {
	const random = mulberry32(0x4b4c4e47);
	const specs: Array<() => Promise<{ label: string; bytes: Buffer }>> = [];
	for (let index = 0; index < SHARP_FIXTURE_COUNT; index++) {
		const seed = Math.floor(random() * 2 ** 32);
		specs.push(() => encodeRandomImage(index, mulberry32(seed)));
	}
	// A few at a time keeps both cores busy without holding many 4000 px images in memory at once.
	const encoded: Array<{ label: string; bytes: Buffer }> = [];
	for (let i = 0; i < specs.length; i += 4) {
		encoded.push(...(await Promise.all(specs.slice(i, i + 4).map((spec) => spec()))));
	}
	const base =
		encoded.find((item) => item.label.includes('jpeg colour none baseline'))?.bytes ??
		encoded[1].bytes;
	encoded.push(...(await craftedJpegs(base)));
	for (const { label, bytes } of encoded) fixtures.push(await fixtureFromSharp(label, bytes));

	const source = sharp({ create: { width: 40, height: 30, channels: 3, background: '#123456' } });
	otherFormats.push(
		{ name: /GIF/, bytes: await source.clone().gif().toBuffer() },
		{ name: /WebP/, bytes: await source.clone().webp().toBuffer() },
		{ name: /TIFF/, bytes: await source.clone().tiff().toBuffer() },
		{ name: /TIFF/, bytes: Buffer.from('4d4d002a00000008', 'hex') },
		{ name: /AVIF/, bytes: await source.clone().avif().toBuffer() },
		{ name: /BMP/, bytes: Buffer.concat([Buffer.from('BM', 'latin1'), Buffer.alloc(52, 0x01)]) },
		{
			name: /PDF/,
			bytes: Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>', 'latin1'),
		},
		{ name: /HTML/, bytes: Buffer.from('<!DOCTYPE html><html><body>403 Forbidden</body></html>') },
		{
			name: /SVG/,
			bytes: Buffer.from(
				'\xef\xbb\xbf<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
				'latin1',
			),
		},
		{ name: /JSON/, bytes: Buffer.from('{"code":1201,"message":"invalid image"}') },
		{ name: /base64 text of a PNG/, bytes: Buffer.from(pngHeader(400, 300).toString('base64')) },
		{ name: /base64 text of a JPEG/, bytes: Buffer.from(base.toString('base64')) },
		{
			name: /not a PNG or JPEG \(first bytes/,
			bytes: Buffer.from([0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x10, 0x10]),
		},
		{ name: /not a PNG or JPEG \(first bytes/, bytes: Buffer.from('plain text that is no image') },
	);
}, 120_000);

describe('readImageHeader', () => {
	it('reads the same format, width and height as sharp for every generated and crafted file', () => {
		expect(fixtures.length).toBeGreaterThanOrEqual(SHARP_FIXTURE_COUNT);
		for (const fixture of fixtures) {
			expect({ label: fixture.label, info: readImageHeader(fixture.bytes) }).toEqual({
				label: fixture.label,
				info: fixture.expected,
			});
		}
	});

	it('was compared on a varied sample: sizes from 1 to 4000 px, every PNG colour type and depth, every JPEG kind', () => {
		const traits = new Set(fixtures.flatMap((fixture) => fixture.traits));
		for (const trait of [
			'png:grey',
			'png:grey+alpha',
			'png:rgb',
			'png:rgba',
			'png:palette',
			'png:1-bit',
			'png:2-bit',
			'png:4-bit',
			'png:8-bit',
			'png:16-bit',
			'png:interlaced',
			'png:straight',
			'jpeg:srgb',
			'jpeg:b-w',
			'jpeg:cmyk',
			'jpeg:baseline',
			'jpeg:progressive',
			'jpeg:exif-or-xmp',
			'jpeg:icc',
		]) {
			expect({ trait, present: traits.has(trait) }).toEqual({ trait, present: true });
		}
		const sides = fixtures.flatMap((fixture) => [fixture.expected.width, fixture.expected.height]);
		expect(Math.min(...sides)).toBe(1);
		expect(Math.max(...sides)).toBe(4000);
		expect(sides.filter((side) => side > 1500).length).toBeGreaterThanOrEqual(10);
	});

	it('needs exactly the 33-byte IHDR of a PNG, or a JPEG up to the end of its SOF size fields', () => {
		for (const { label, bytes, expected, headerEnd } of fixtures) {
			expect({ label, reason: reasonOf(bytes.subarray(0, headerEnd - 1)) }).toEqual({
				label,
				reason: 'truncated',
			});
			if (expected.format === 'png') {
				expect({ label, headerEnd }).toEqual({ label, headerEnd: 33 });
			} else {
				// Independent of the parser: the last 9 header bytes must be an SOF marker with these dims.
				expect({
					label,
					marker: bytes[headerEnd - 9] === 0xff && SOF_MARKERS.includes(bytes[headerEnd - 8]),
					height: uint16(bytes, headerEnd - 4),
					width: uint16(bytes, headerEnd - 2),
				}).toEqual({ label, marker: true, height: expected.height, width: expected.width });
			}
		}
	});

	it('works on the first 64 KB of a file whenever the header fits in them', () => {
		for (const { label, bytes, expected, headerEnd } of fixtures) {
			const head = bytes.subarray(0, 64 * 1024);
			const result = outcome(head);
			if (headerEnd <= head.length)
				expect({ label, result }).toEqual({ label, result: { ok: true, info: expected } });
			else expect({ label, reason: reasonOf(head) }).toEqual({ label, reason: 'truncated' });
		}
		expect(fixtures.some((fixture) => fixture.headerEnd > 64 * 1024)).toBe(true);
	});

	it('reports the stored size and ignores EXIF orientation, as sharp metadata does', async () => {
		const rotated = await sharp({
			create: { width: 640, height: 480, channels: 3, background: '#000' },
		})
			.withMetadata({ orientation: 6 })
			.jpeg()
			.toBuffer();
		const metadata = await sharp(rotated).metadata();
		expect(metadata.orientation).toBe(6);
		expect(readImageHeader(rotated)).toEqual(infoFor('jpeg', 640, 480));
	});

	it('reads every SOF variant and skips DHT, JPG and DAC segments that sit in the SOF range', () => {
		const base = fixtures.find((fixture) => fixture.label.includes('jpeg colour none baseline'))!;
		const sofAt = base.headerEnd - 9;
		for (const marker of SOF_MARKERS) {
			const patched = Buffer.from(base.bytes);
			patched[sofAt + 1] = marker;
			expect({ marker, info: readImageHeader(patched) }).toEqual({ marker, info: base.expected });
		}
		// Each decoy's payload looks like a frame header for 1 × 1 px.
		const decoy = Buffer.from([0x08, 0x00, 0x01, 0x00, 0x01, 0x03]);
		const decoys = afterSoi(
			base.bytes,
			segment(0xc4, decoy),
			segment(0xc8, decoy),
			segment(0xcc, decoy),
		);
		expect(readImageHeader(decoys)).toEqual(base.expected);
	});

	it('rejects a PNG whose IHDR is missing, fails its checksum or states an impossible size', () => {
		const cases: Array<[Buffer, string, RegExp]> = [
			[pngHeader(0, 300), 'invalid-size', /invalid size of 0 × 300 px/],
			[pngHeader(300, 0x80000000), 'invalid-size', /invalid size/],
			[pngHeader(300, 300, { crc: 0x12345678 }), 'corrupt', /fails its checksum/],
			[pngHeader(300, 300, { type: 'IDAT' }), 'corrupt', /IHDR/],
			[
				pngHeader(300, 300).subarray(0, 32),
				'truncated',
				/PNG header is truncated: it needs 33 bytes and only 32/,
			],
			[pngHeader(300, 300).subarray(0, 5), 'truncated', /only 5 bytes were given/],
		];
		for (const [bytes, reason, message] of cases) {
			const result = outcome(bytes);
			expect(result.ok).toBe(false);
			if (!result.ok) {
				expect(result.error.reason).toBe(reason);
				expect(result.error.message).toMatch(message);
			}
		}
		expect(readImageHeader(pngHeader(0x7fffffff, 1))).toEqual(infoFor('png', 0x7fffffff, 1));
	});

	it('rejects a JPEG that ends, starts its data, or breaks a segment before stating its size', () => {
		const soi = Buffer.from([0xff, 0xd8]);
		const sof = (height: number, width: number, length = 11) =>
			Buffer.from([
				0xff,
				0xc0,
				length >> 8,
				length & 0xff,
				8,
				height >> 8,
				height & 0xff,
				width >> 8,
				width & 0xff,
				1,
				1,
				0x11,
				0,
			]);
		const cases: Array<[Buffer, string, RegExp]> = [
			[
				Buffer.concat([soi, Buffer.from([0xff, 0xd9])]),
				'missing-size',
				/ends before stating its size/,
			],
			[
				Buffer.concat([soi, segment(0xda, Buffer.alloc(10)), sof(300, 300)]),
				'corrupt',
				/image data starts before its size marker/,
			],
			[
				Buffer.concat([soi, Buffer.from([0xff, 0xe0, 0x00, 0x01]), sof(300, 300)]),
				'corrupt',
				/impossible length \(1\)/,
			],
			[Buffer.concat([soi, sof(300, 300, 7)]), 'corrupt', /too short/],
			[Buffer.concat([soi, sof(0, 300)]), 'invalid-size', /invalid size of 300 × 0 px/],
			[
				Buffer.concat([soi, sof(300, 300)]).subarray(0, 10),
				'truncated',
				/^The JPEG header is truncated before its size marker/,
			],
			[
				Buffer.concat([soi, Buffer.from([0xff, 0xe1, 0x40, 0x00]), Buffer.alloc(100)]),
				'truncated',
				/truncated before its size marker/,
			],
			[
				soi,
				'truncated',
				/^The JPEG header is truncated before its size marker \(2 bytes were given\)/,
			],
			[Buffer.from([0xff]), 'truncated', /only 1 byte was given/],
		];
		for (const [bytes, reason, message] of cases) {
			const result = outcome(bytes);
			expect({ bytes: bytes.toString('hex'), ok: result.ok }).toEqual({
				bytes: bytes.toString('hex'),
				ok: false,
			});
			if (!result.ok) {
				expect(result.error.reason).toBe(reason);
				expect(result.error.message).toMatch(message);
			}
		}
		expect(readImageHeader(Buffer.concat([soi, sof(65535, 65535)]))).toEqual(
			infoFor('jpeg', 65535, 65535),
		);
	});

	it('names other formats and shows the first bytes in its message', () => {
		for (const { name, bytes } of otherFormats) {
			const result = outcome(bytes);
			expect(result.ok).toBe(false);
			if (!result.ok) {
				expect(result.error.reason).toBe('unsupported-format');
				expect(result.error.message).toMatch(name);
				expect(result.error.message).toContain(
					`first bytes: ${bytes
						.subarray(0, 8)
						.toString('hex')
						.replace(/(..)(?!$)/g, '$1 ')}`,
				);
			}
		}
		expect(() => readImageHeader(otherFormats[0].bytes)).toThrow(
			/^The image is not a PNG or JPEG: it looks like a GIF \(first bytes: 47 49 46 38 39 61/,
		);
	});

	it('rejects empty and missing input with an ImageHeaderError', () => {
		expect(outcome(new Uint8Array(0))).toMatchObject({
			ok: false,
			error: { reason: 'empty', message: 'The image is empty (0 bytes)' },
		});
		const unchecked = { checkBounds: false };
		expect(outcome(undefined as unknown as Uint8Array, unchecked)).toMatchObject({
			ok: false,
			error: { reason: 'empty' },
		});
		expect(outcome(null as unknown as Uint8Array, unchecked)).toMatchObject({
			ok: false,
			error: { reason: 'empty' },
		});
	});

	it('gives the true size or "truncated" for any cut of a real file, and nothing in between', () => {
		const cut = fc.nat({ max: fixtures.length - 1 }).chain((index) => {
			const { bytes, headerEnd } = fixtures[index];
			return fc.tuple(
				fc.constant(index),
				fc.oneof(
					fc.integer({ min: 0, max: Math.min(bytes.length, headerEnd + 16) }),
					fc.integer({ min: 0, max: bytes.length }),
				),
			);
		});
		fc.assert(
			fc.property(cut, ([index, length]) => {
				const { bytes, expected, headerEnd, label } = fixtures[index];
				const head = bytes.subarray(0, length);
				if (length >= headerEnd) {
					expect({ label, length, result: outcome(head) }).toEqual({
						label,
						length,
						result: { ok: true, info: expected },
					});
				} else {
					const reason = length === 0 ? 'empty' : 'truncated';
					expect({ label, length, reason: reasonOf(head) }).toEqual({ label, length, reason });
				}
			}),
			{ numRuns: RUNS * 2 },
		);
	});

	it('gives the true size or an ImageHeaderError for random byte flips, and catches every flip in a PNG header', () => {
		let flipsInHeader = 0;
		let flipsAfterHeader = 0;
		const flips = fc.nat({ max: fixtures.length - 1 }).chain((index) => {
			const { bytes, headerEnd } = fixtures[index];
			const position = fc.oneof(
				fc.integer({ min: 0, max: Math.min(bytes.length - 1, headerEnd + 32) }),
				fc.integer({ min: 0, max: bytes.length - 1 }),
			);
			const flip = fc.record({ position, mask: fc.integer({ min: 1, max: 255 }) });
			return fc.tuple(fc.constant(index), fc.array(flip, { minLength: 1, maxLength: 6 }));
		});
		fc.assert(
			fc.property(flips, ([index, changes]) => {
				const { bytes, expected, headerEnd, label } = fixtures[index];
				const corrupted = Buffer.from(bytes);
				for (const { position, mask } of changes) corrupted[position] ^= mask;
				// Two flips of one byte can cancel out, so classify by what actually changed.
				const changed = changes
					.map((change) => change.position)
					.filter((at) => corrupted[at] !== bytes[at]);
				const result = outcome(corrupted);
				if (changed.every((at) => at >= headerEnd)) {
					flipsAfterHeader++;
					expect({ label, changes, result }).toEqual({
						label,
						changes,
						result: { ok: true, info: expected },
					});
					return;
				}
				flipsInHeader++;
				if (expected.format === 'png')
					expect({ label, changes, ok: result.ok }).toEqual({ label, changes, ok: false });
				if (result.ok) expectWellFormed(result.info);
			}),
			{ numRuns: RUNS * 2 },
		);
		expect(flipsInHeader).toBeGreaterThan(300);
		expect(flipsAfterHeader).toBeGreaterThan(100);
	});

	it('rejects other formats, even cut short or followed by anything, with an ImageHeaderError', () => {
		const mislabelled = fc
			.nat({ max: otherFormats.length - 1 })
			.chain((index) =>
				fc.tuple(
					fc.constant(index),
					fc.integer({ min: 0, max: otherFormats[index].bytes.length }),
					fc.uint8Array({ maxLength: 512 }),
				),
			);
		fc.assert(
			fc.property(mislabelled, ([index, length, tail]) => {
				const head = otherFormats[index].bytes.subarray(0, length);
				const bytes = length >= 4 ? Buffer.concat([head, tail]) : head;
				const result = outcome(bytes);
				expect(result.ok).toBe(false);
				if (!result.ok)
					expect(result.error.reason).toBe(bytes.length === 0 ? 'empty' : 'unsupported-format');
			}),
			{ numRuns: RUNS },
		);
	});

	it('never throws anything but ImageHeaderError on random bytes, with or without a PNG or JPEG signature', () => {
		const magic = fc.constantFrom(
			Buffer.alloc(0),
			Buffer.from([0xff, 0xd8, 0xff]),
			Buffer.from([0xff, 0xd8, 0xff, 0xe1]),
			Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
			pngHeader(300, 300).subarray(0, 16),
		);
		const tail = fc.oneof(
			fc.uint8Array({ maxLength: 4096 }),
			// Mostly 0xFF and marker-like bytes, to drive the JPEG walker through odd paths.
			fc
				.array(
					fc.constantFrom(0xff, 0xff, 0x00, 0x01, 0x02, 0xc0, 0xc4, 0xd0, 0xd9, 0xda, 0xe1, 0xfe),
					{ maxLength: 2048 },
				)
				.map((values) => Uint8Array.from(values)),
		);
		fc.assert(
			fc.property(magic, tail, (prefix, rest) => {
				const bytes = Buffer.concat([prefix, rest]);
				const result = outcome(bytes);
				if (result.ok) expectWellFormed(result.info);
				else if (detectImageFormat(bytes) === undefined && bytes.length > 0) {
					expect(['unsupported-format', 'truncated']).toContain(result.error.reason);
				}
			}),
			{ numRuns: RUNS * 2 },
		);
	});

	it('finds the size after any valid run of segments, fill bytes and standalone markers', () => {
		const piece = fc.oneof(
			fc
				.record({
					marker: fc.integer({ min: 0xe0, max: 0xef }),
					payload: fc.uint8Array({ maxLength: 300 }),
				})
				.map(({ marker, payload }) => segment(marker, payload)),
			fc.uint8Array({ maxLength: 300 }).map((payload) => segment(0xfe, payload)),
			fc
				.constantFrom(0xc4, 0xc8, 0xcc, 0xdb, 0xdd)
				.chain((marker) =>
					fc.uint8Array({ maxLength: 64 }).map((payload) => segment(marker, payload)),
				),
			fc.integer({ min: 1, max: 8 }).map((count) => Buffer.alloc(count, 0xff)),
			fc.constantFrom(0x01, 0xd0, 0xd3, 0xd7, 0xd8).map((marker) => Buffer.from([0xff, marker])),
		);
		const jpeg = fc.record({
			pieces: fc.array(piece, { maxLength: 10 }),
			marker: fc.constantFrom(...SOF_MARKERS),
			width: fc.integer({ min: 1, max: 0xffff }),
			height: fc.integer({ min: 1, max: 0xffff }),
			rest: fc.uint8Array({ maxLength: 64 }),
		});
		fc.assert(
			fc.property(jpeg, ({ pieces, marker, width, height, rest }) => {
				const frame = Buffer.from([
					0xff,
					marker,
					0,
					11,
					8,
					height >> 8,
					height & 0xff,
					width >> 8,
					width & 0xff,
					1,
					1,
					0x11,
					0,
				]);
				const bytes = Buffer.concat([Buffer.from([0xff, 0xd8]), ...pieces, frame]);
				const headerEnd = bytes.length - 4;
				const info = infoFor('jpeg', width, height);
				expect(outcome(Buffer.concat([bytes, rest]))).toEqual({ ok: true, info });
				expect(outcome(bytes.subarray(0, headerEnd))).toEqual({ ok: true, info });
				expect(outcome(bytes.subarray(0, headerEnd - 1))).toMatchObject({
					ok: false,
					error: { reason: 'truncated' },
				});
			}),
			{ numRuns: RUNS },
		);
	});

	it('reads any PNG size up to 2^31 - 1 from a well-formed IHDR', () => {
		const side = fc.integer({ min: 1, max: 0x7fffffff });
		fc.assert(
			fc.property(side, side, (width, height) => {
				expect(readImageHeader(pngHeader(width, height))).toEqual(infoFor('png', width, height));
			}),
			{ numRuns: RUNS },
		);
	});

	it('returns in linear time on adversarial inputs of several megabytes', () => {
		const megabytes = 8 * 1024 * 1024;
		const inputs = [
			Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(megabytes, 0xff)]),
			Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(megabytes, 0x00)]),
			Buffer.concat([
				Buffer.from([0xff, 0xd8]),
				Buffer.alloc(megabytes, Buffer.from([0xff, 0xfe, 0x00, 0x02])),
			]),
			Buffer.concat([
				Buffer.from([0xff, 0xd8]),
				Buffer.alloc(megabytes, Buffer.from([0xff, 0xd0, 0xff, 0x01])),
			]),
		];
		for (const bytes of inputs) {
			const started = Date.now();
			// Unchecked: the bounds proxy would cost more than the parser on 8 MB.
			expect(outcome(bytes, { checkBounds: false })).toMatchObject({
				ok: false,
				error: { reason: 'truncated' },
			});
			expect(Date.now() - started).toBeLessThan(2000);
		}
	});
});

describe('detectImageFormat', () => {
	it('tells PNG from JPEG by magic bytes for every fixture', () => {
		for (const { label, bytes, expected } of fixtures) {
			expect({ label, format: detectImageFormat(bytes) }).toEqual({
				label,
				format: expected.format,
			});
			expect({ label, format: detectImageFormat(bytes.subarray(0, 8)) }).toEqual({
				label,
				format: expected.format,
			});
		}
	});

	it('returns undefined for other formats, empty input and partial signatures', () => {
		for (const { bytes } of otherFormats) expect(detectImageFormat(bytes)).toBeUndefined();
		expect(detectImageFormat(new Uint8Array(0))).toBeUndefined();
		expect(detectImageFormat(Buffer.from([0xff]))).toBeUndefined();
		expect(detectImageFormat(Buffer.from([0x89, 0x50, 0x4e, 0x47]))).toBeUndefined();
	});

	it('looks at magic bytes only, so a damaged header is still recognised', () => {
		expect(detectImageFormat(pngHeader(300, 300, { crc: 0 }))).toBe('png');
		expect(detectImageFormat(Buffer.from([0xff, 0xd8, 0xff, 0xd9]))).toBe('jpeg');
		expect(detectImageFormat(Buffer.from([0xff, 0xd8, 0x00]))).toBe('jpeg');
	});
});

describe('imageEndProblem', () => {
	const whole = (bytes: Buffer) => imageEndProblem(bytes, bytes, bytes.length);
	let jpeg: Buffer;
	let png: Buffer;
	beforeAll(async () => {
		const pixels = sharp({
			create: { width: 320, height: 320, channels: 3, background: { r: 9, g: 99, b: 199 } },
		});
		jpeg = await pixels.clone().jpeg().toBuffer();
		png = await pixels.clone().png().toBuffer();
	});

	it('finds nothing wrong with whole files, read as head and tail only', () => {
		expect(whole(jpeg)).toBeUndefined();
		expect(whole(png)).toBeUndefined();
		expect(imageEndProblem(png.subarray(0, 40), png.subarray(png.length - 16), png.length)).toBe(
			undefined,
		);
	});

	it('does not take an EXIF thumbnail’s end marker, before the frame header, for the image’s own', () => {
		const thumbnailEnd = segment(0xe1, Buffer.from([0x45, 0x78, 0xff, 0xd9, 0x00]));
		const cut = afterSoi(jpeg, thumbnailEnd).subarray(0, jpeg.length);
		expect(whole(cut)).toMatch(/a JPEG must reach its end marker \(EOI, FF D9\)/);
		expect(whole(afterSoi(jpeg, thumbnailEnd))).toBeUndefined();
	});

	it('gives a PNG whose chunks leave the head the benefit of the doubt, but not one that ends there', () => {
		const head = png.subarray(0, 40);
		expect(imageEndProblem(head, png.subarray(png.length - 12), png.length)).toBeUndefined();
		expect(whole(pngHeader(400, 300))).toMatch(/has none$/);
	});
});

describe('the JPEG end marker after the scan start', () => {
	let jpeg: Buffer;
	let scanFrom: number;
	beforeAll(async () => {
		jpeg = await sharp({
			create: {
				width: 320,
				height: 320,
				channels: 3,
				background: { r: 0, g: 0, b: 0 },
				noise: { type: 'gaussian', mean: 128, sigma: 60 },
			},
		})
			.jpeg({ quality: 95 })
			.toBuffer();
		const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
		scanFrom = sos + 2 + jpeg.readUInt16BE(sos + 2);
	});

	/** Pushes `bytes` to a finder in the pieces that `cuts` (offsets) make. */
	function foundIn(bytes: Buffer, cuts: number[], from = scanFrom): boolean {
		const finder = new JpegEndFinder(from);
		let at = 0;
		for (const cut of [...cuts].sort((a, b) => a - b)) {
			finder.push(bytes.subarray(at, cut));
			at = Math.max(at, cut);
		}
		finder.push(bytes.subarray(at));
		return finder.found;
	}

	it('starts after the first scan header, past an EXIF thumbnail’s own end marker', () => {
		expect(jpegScanStart(jpeg)).toBe(scanFrom);
		const thumbnail = segment(0xe1, Buffer.from([0x45, 0x78, 0xff, 0xd9, 0xff, 0xda, 0x00]));
		expect(jpegScanStart(afterSoi(jpeg, thumbnail))).toBe(scanFrom + thumbnail.length);
		// A scan header beyond the bytes given: the frame header bounds the search, as before.
		const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
		const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
		expect(jpegScanStart(jpeg.subarray(0, sos + 1))).toBe(sof);
		expect(jpegScanStart(Buffer.from('not a jpeg'))).toBe(0);
	});

	it('finds the marker split between two pieces at every offset around it, and none in a cut file', () => {
		const end = jpeg.length - 2;
		const cut = jpeg.subarray(0, jpeg.length - 100);
		for (let split = end - 3; split <= end + 4; split++) {
			expect(foundIn(jpeg, [split])).toBe(true);
			expect(foundIn(cut, [split])).toBe(false);
		}
		expect(
			foundIn(
				jpeg,
				Array.from({ length: jpeg.length }, (_, at) => at),
			),
		).toBe(true);
		// Only a marker starting at or after `from` counts.
		expect(foundIn(jpeg, [end + 1], end)).toBe(true);
		expect(foundIn(jpeg, [end + 1], end + 1)).toBe(false);
		expect(foundIn(jpeg, [end], end + 1)).toBe(false);
	});

	it('agrees with a plain search for any pieces and any data after the picture', () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 100 }),
				fc.uint8Array({ maxLength: 2000 }),
				fc.array(fc.integer({ min: 0, max: 40000 }), { maxLength: 8 }),
				(cutBy, trailer, cuts) => {
					const bytes = Buffer.concat([jpeg.subarray(0, jpeg.length - cutBy), trailer]);
					const expected = bytes.indexOf(Buffer.from([0xff, 0xd9]), scanFrom) >= 0;
					expect(foundIn(bytes, cuts)).toBe(expected);
				},
			),
			{ numRuns: RUNS },
		);
	});

	it('looks before the tail only when the tail holds no end marker', () => {
		const trailer = Buffer.alloc(100000, 0x20);
		const motionPhoto = Buffer.concat([jpeg, trailer]);
		const tail = motionPhoto.subarray(motionPhoto.length - 65536);
		let asked = 0;
		const before = (answer: boolean) => () => {
			asked++;
			return answer;
		};
		expect(imageEndProblem(jpeg, jpeg, jpeg.length, before(false))).toBeUndefined();
		expect(asked).toBe(0);
		expect(imageEndProblem(motionPhoto, tail, motionPhoto.length, before(true))).toBeUndefined();
		expect(imageEndProblem(motionPhoto, tail, motionPhoto.length, before(false))).toMatch(
			/^a JPEG must reach its end marker \(EOI, FF D9\) after its image data, and none follows it/,
		);
		expect(asked).toBe(2);
	});
});
