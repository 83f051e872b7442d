import { readFileSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MB = 1024 * 1024;
const SAMPLE_EVERY_MS = 50;

/**
 * A full collection before and after each run, so RSS figures compare like with like. `npm run bench`
 * does not pass --expose-gc, so the flag is set at runtime when it is missing.
 */
export const collectGarbage: () => void =
	(globalThis as { gc?: () => void }).gc ??
	(() => {
		setFlagsFromString('--expose-gc');
		return runInNewContext('gc') as () => void;
	})();

/** Buffers are released by callbacks after the collection that finds them dead: collect, let those run, collect again. */
export async function settleGarbage(): Promise<void> {
	collectGarbage();
	await new Promise((resolve) => setImmediate(resolve));
	collectGarbage();
}

export function rssMb(): number {
	return process.memoryUsage().rss / MB;
}

/** Live JavaScript heap plus Buffer memory. */
export function liveMb(): number {
	const { heapUsed, external } = process.memoryUsage();
	return (heapUsed + external) / MB;
}

/**
 * Peak RSS of one run: sampled every 50 ms, and, on Linux, the kernel's own high-water mark (VmHWM,
 * reset through /proc/self/clear_refs), which also catches peaks while the event loop is blocked.
 */
export class PeakRss {
	private peak = rssMb();

	private readonly timer: NodeJS.Timeout;

	private readonly kernelPeak = resetKernelPeak();

	constructor() {
		this.timer = setInterval(() => (this.peak = Math.max(this.peak, rssMb())), SAMPLE_EVERY_MS);
	}

	/** Stops sampling; returns the peak in MB. */
	stop(): number {
		clearInterval(this.timer);
		const kernel = this.kernelPeak ? readKernelPeakMb() : undefined;
		return Math.max(this.peak, rssMb(), kernel ?? 0);
	}
}

function resetKernelPeak(): boolean {
	try {
		writeFileSync('/proc/self/clear_refs', '5');
		return true;
	} catch {
		return false;
	}
}

function readKernelPeakMb(): number | undefined {
	try {
		const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
		return match ? Number(match[1]) / 1024 : undefined;
	} catch {
		return undefined;
	}
}
