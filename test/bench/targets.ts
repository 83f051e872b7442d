import type { TargetResult } from './report';
import type { Row } from './runners';
import { NODE_OPTIONS, NODE_POLL_GROWTH, TASK_MS } from './scale';

export interface Results {
	batch: { node: Row; baseline: Row };
	overLimit: Row;
	mixed: { node: Row; baseline: Row };
	sweep: Array<{ realSeconds: number; single: Row; ten: Row; baseline: Row }>;
	large: { runs: Row[]; half: Row; baseline: Row };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const requestFigure = (row: Row) =>
	`${row.requestsPerTask.toFixed(2)} (${row.requests.creates} creates, ${row.requests.queries} queries, ${row.requests.lists} lists for ${row.tasks} tasks)`;
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** The node's poll interval once a task has run for `elapsedMs` (nextPollDelay in helpers/polling.ts). */
export function nodeIntervalAt(elapsedMs: number): number {
	return Math.min(
		NODE_OPTIONS.maxPollInterval * 1000,
		Math.max(NODE_OPTIONS.pollInterval * 1000, NODE_POLL_GROWTH * elapsedMs),
	);
}

/** Where each target of issue 5 stands; figures, never assertions. */
export function evaluateTargets(results: Results): TargetResult[] {
	const { batch, overLimit, mixed, sweep, large } = results;
	const interval = nodeIntervalAt(TASK_MS);
	const limit = 1.15 * batch.node.floorMs + interval;
	const speedup = batch.baseline.wallMs / batch.node.wallMs;
	const sweepTarget = (
		label: string,
		pick: (entry: Results['sweep'][number]) => Row,
	): TargetResult[] => {
		const rows = sweep.map(pick);
		const perTask = mean(rows.map((row) => row.requestsPerTask));
		const worstLag = Math.max(...rows.map((row) => row.lag.p95Pct));
		const each = sweep
			.map(
				(entry, index) =>
					`${entry.realSeconds} s: ${rows[index].requestsPerTask.toFixed(1)} req, p95 ${rows[index].lag.p95Pct.toFixed(1)} %`,
			)
			.join('; ');
		return [
			{
				target: `Requests per task ≤ 4 on average across 5–60 s (${label})`,
				met: perTask <= 4,
				figure: `mean ${perTask.toFixed(2)} (${each})`,
			},
			{
				target: `Detection lag p95 ≤ 15 % of the task's duration across 5–60 s (${label})`,
				met: worstLag <= 15,
				figure: `worst p95 ${worstLag.toFixed(1)} %`,
			},
		];
	};
	const nodeRows = [
		batch.node,
		mixed.node,
		...sweep.flatMap((entry) => [entry.single, entry.ten]),
		...large.runs,
		large.half,
	];
	const within = nodeRows.every((row) => row.peakSlots <= NODE_OPTIONS.concurrency);
	const provoked = nodeRows.reduce((sum, row) => sum + row.rejected1303, 0);
	const [first, , third] = large.runs;
	const growthPerRun = (row: Row) => row.peakRssMb - row.rssBeforeMb;
	const scaling = growthPerRun(first) / growthPerRun(large.half);
	const liveGrowth = third.liveAfterMb - first.liveAfterMb;
	const peakGrowth = third.peakRssMb / first.peakRssMb - 1;
	const workloadTarget = (row: Row): TargetResult[] => [
		{
			target: `Requests per task ≤ 4 on average (${row.workload})`,
			met: row.requestsPerTask <= 4,
			figure: requestFigure(row),
		},
		{
			target: `Detection lag p95 ≤ 15 % of the task's duration (${row.workload})`,
			met: row.lag.p95Pct <= 15,
			figure: `p95 ${row.lag.p95Pct.toFixed(1)} % (${s(row.lag.p95Ms)}), p50 ${row.lag.p50Pct.toFixed(1)} %`,
		},
	];
	return [
		{
			target: 'Batch: wall ≤ 1.15 × floor + one poll interval',
			met: batch.node.wallMs <= limit,
			figure: `median wall of 3 runs ${s(batch.node.wallMs)} vs limit ${s(limit)} (floor ${s(batch.node.floorMs)}; one poll interval = the node's interval at L = ${s(interval)})`,
		},
		{
			target: 'Batch: ≥ 10× faster than the baseline',
			met: speedup >= 10,
			figure: `${speedup.toFixed(2)}× (baseline ${s(batch.baseline.wallMs)}, node ${s(batch.node.wallMs)}; a node at the floor would be ${(batch.baseline.wallMs / batch.node.floorMs).toFixed(2)}×)`,
		},
		...sweepTarget('one item per run', (entry) => entry.single),
		...sweepTarget('10 items per run', (entry) => entry.ten),
		...workloadTarget(batch.node),
		...workloadTarget(mixed.node),
		{
			target:
				'Concurrency never exceeds the limit the user set (10 = the account limit); 1303 answers stay rare',
			met: within && provoked === 0,
			figure: `peak slots ${Math.max(...nodeRows.map((row) => row.peakSlots))} across ${nodeRows.length} node runs; ${provoked} 1303 answers provoked`,
		},
		{
			target:
				'When 1303 answers come they are waited out, not failed (user set concurrency 15 > account limit 10)',
			met: overLimit.succeeded === overLimit.items && !overLimit.error,
			figure: `${overLimit.rejected1303} answers of 1303, ${overLimit.succeeded}/${overLimit.items} items succeeded, wall ${s(overLimit.wallMs)} (×${(overLimit.wallMs / overLimit.floorMs).toFixed(2)} floor)`,
		},
		{
			target: 'Large inputs: peak RSS bounded by the concurrency limit, not N',
			// Met when nearer ×1 (bounded by concurrency) than ×2 (growing with N).
			met: scaling < 1.5,
			figure: `RSS rise during the run ${growthPerRun(first).toFixed(0)} MB for 20 items vs ${growthPerRun(large.half).toFixed(0)} MB for 10 items, both at concurrency 10 (×${scaling.toFixed(2)}; growing with N would be ~×2); about ${(growthPerRun(large.half) / NODE_OPTIONS.concurrency).toFixed(0)} MB per 8 MB create in flight; baseline (one at a time) +${growthPerRun(large.baseline).toFixed(0)} MB`,
		},
		{
			target: 'Large inputs: three runs in a row show no growth',
			// Met when live memory after the runs grows < 10 MB and the peak < 5 %.
			met: liveGrowth < 10 && peakGrowth < 0.05,
			figure: `peak RSS ${large.runs.map((row) => row.peakRssMb.toFixed(0)).join(' → ')} MB; live heap + buffers after each run (GC'd) ${large.runs.map((row) => row.liveAfterMb.toFixed(0)).join(' → ')} MB; RSS after ${large.runs.map((row) => row.rssAfterMb.toFixed(0)).join(' → ')} MB`,
		},
	];
}
