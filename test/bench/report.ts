import type { Row } from './runners';
import { realSeconds } from './scale';

export const seconds = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '–');
const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

/** A column of a fixed-width bench table. */
export interface Column<T> {
	title: string;
	width: number;
	cell: (row: T) => string;
}

/** Rows as a fixed-width table under a header; a run that failed says why below its line. */
export function formatColumns<T extends { error?: string }>(
	columns: Column<T>[],
	rows: T[],
): string {
	const line = (cells: string[]) =>
		cells
			.map((cell, index) => cell.padEnd(columns[index].width))
			.join('  ')
			.trimEnd();
	const header = line(columns.map((column) => column.title));
	const body = rows.map(
		(row) =>
			line(columns.map((column) => column.cell(row))) +
			(row.error ? `\n    run failed: ${row.error}` : ''),
	);
	return [header, '-'.repeat(header.length), ...body].join('\n');
}

const COLUMNS: Column<Row>[] = [
	{ title: 'Workload', width: 30, cell: (row) => row.workload },
	{ title: 'Runner', width: 8, cell: (row) => row.runner },
	{ title: 'Items', width: 5, cell: (row) => String(row.items) },
	{ title: 'Wall s', width: 7, cell: (row) => seconds(row.wallMs) },
	{ title: 'Floor s', width: 7, cell: (row) => seconds(row.floorMs) },
	{ title: '×floor', width: 6, cell: (row) => fixed(row.wallMs / row.floorMs) },
	{ title: 'Req/task', width: 8, cell: (row) => fixed(row.requestsPerTask) },
	{ title: 'Lag p50 s', width: 9, cell: (row) => seconds(row.lag.p50Ms) },
	{
		title: 'Lag p95 s',
		width: 9,
		cell: (row) => seconds(row.lag.p95Ms) + (row.lag.source === 'poll' ? '≥' : ''),
	},
	{ title: 'p95 %dur', width: 8, cell: (row) => fixed(row.lag.p95Pct, 1) },
	{
		title: 'RSS peak MB (+run)',
		width: 18,
		cell: (row) =>
			Number.isFinite(row.peakRssMb)
				? `${row.peakRssMb.toFixed(0)} (+${Math.max(0, row.peakRssMb - row.rssBeforeMb).toFixed(0)})`
				: 'shared (see note)',
	},
	{ title: '1303', width: 4, cell: (row) => String(row.rejected1303) },
	{ title: 'Slots', width: 5, cell: (row) => String(row.peakSlots) },
	{ title: 'OK', width: 7, cell: (row) => `${row.succeeded}/${row.items}` },
];

/** The rows as a fixed-width table, one line per runner and workload. */
export function formatTable(rows: Row[]): string {
	return formatColumns(COLUMNS, rows);
}

export interface TargetResult {
	target: string;
	met: boolean;
	figure: string;
}

export function formatTargets(targets: TargetResult[]): string {
	return targets
		.map(
			(target) => `[${target.met ? 'met' : 'NOT MET'}] ${target.target}\n        ${target.figure}`,
		)
		.join('\n');
}

/** "2.00 s (20 s real)" */
export function benchAndReal(ms: number): string {
	return `${seconds(ms)} s (${realSeconds(ms).toFixed(0)} s real)`;
}
