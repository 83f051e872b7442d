/**
 * The bench's clock. Every duration and interval is divided by SCALE, so a 20 s task runs in 2 s and a
 * whole workload in seconds. Network timeouts are not scaled: they bound real uploads, not task time.
 * Per-request costs (ms) are not scaled either, so they weigh SCALE times more than in real use;
 * BENCH_SCALE=1 runs in real time to check a figure without that magnification.
 */
export const SCALE = Number(process.env.BENCH_SCALE) || 10;

/** Bench milliseconds for real seconds. */
export const scaledMs = (realSeconds: number): number => (realSeconds * 1000) / SCALE;

/** Real seconds for bench milliseconds, for printing what a figure stands for. */
export const realSeconds = (benchMs: number): number => (benchMs * SCALE) / 1000;

/** The simulated account's concurrency limit: the simulator answers 1303 above it. */
export const ACCOUNT_LIMIT = 10;

/** Task duration L of the batch workload: 20 s real. */
export const TASK_MS = scaledMs(20);

/** The n8n-loop baseline's Wait node: 5 s real. */
export const BASELINE_INTERVAL_MS = scaledMs(5);

/** The node's options, its defaults scaled (pollInterval 1 s, maxPollInterval 15 s, retryDelay 1 s, timeout 600 s). */
export const NODE_OPTIONS = {
	concurrency: ACCOUNT_LIMIT,
	pollInterval: scaledMs(1) / 1000,
	maxPollInterval: scaledMs(15) / 1000,
	retryDelay: scaledMs(1) / 1000,
	timeout: scaledMs(600) / 1000,
	requestTimeout: 30,
};

/** Growth of the node's poll schedule (POLL_GROWTH in actions/submitAndWait/poll.ts): unitless, so not scaled. */
export const NODE_POLL_GROWTH = 0.1;
