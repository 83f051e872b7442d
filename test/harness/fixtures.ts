import type { SimulatorOptions, Simulator, RecordedRequest } from '../simulator';
import { makeTestImage, startSimulator } from '../simulator';

/** One simulator per test file, reset before each test so request counts belong to that test alone. */
export function useSimulator(options: SimulatorOptions = {}): () => Simulator {
	let sim: Simulator | undefined;
	beforeAll(async () => {
		sim = await startSimulator({ taskDurationMs: 150, ...options });
	});
	beforeEach(() => sim?.reset());
	afterAll(async () => await sim?.close());
	return () => sim!;
}

/** Requests of one kind the simulator received (create = POST to an expand route). */
export function requestsOf(sim: Simulator, kind: 'create' | 'query' | 'list'): RecordedRequest[] {
	return sim.requests.filter((request) => {
		const path = request.path.split('?')[0];
		if (!/\/v1\/images\/editing\/expand/.test(path)) return false;
		if (kind === 'create') return request.method === 'POST';
		const isQuery = /\/expand\/[^/]+$/.test(path);
		return request.method === 'GET' && (kind === 'query' ? isQuery : !isQuery);
	});
}

const images = new Map<string, Promise<Buffer>>();

/** Test images are deterministic, so each size and format is made once per file. */
export function testImage(
	width = 400,
	height = 300,
	format: 'png' | 'jpeg' = 'png',
): Promise<Buffer> {
	const key = `${width}x${height}.${format}`;
	if (!images.has(key)) images.set(key, makeTestImage({ width, height, format }));
	return images.get(key)!;
}

/** Fast timings for Submit and Wait in tests: the simulator's tasks take ~150 ms. */
export const FAST_WAIT = {
	pollInterval: 0.03,
	maxPollInterval: 0.2,
	retryDelay: 0.02,
	requestTimeout: 2,
};

/** A phone motion photo's appended video (an MP4 after the JPEG's end): no FF D9 anywhere in it. */
export function motionPhotoVideo(bytes = 1024 * 1024): Buffer {
	const video = Buffer.alloc(bytes, 0x20);
	video.write('\0\0\0\x18ftypmp42', 0, 'latin1');
	return video;
}
