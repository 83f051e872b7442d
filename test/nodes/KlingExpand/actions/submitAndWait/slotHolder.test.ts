import type { HoldSchedule } from '../../../../../nodes/KlingExpand/actions/submitAndWait/slotHolder';
import { SlotHolder } from '../../../../../nodes/KlingExpand/actions/submitAndWait/slotHolder';
import { SlotPool } from '../../../../../nodes/KlingExpand/helpers/concurrency';
import * as polling from '../../../../../nodes/KlingExpand/helpers/polling';

// The schedule is poll mode's, watched: the holder has no interval math of its own.
jest.mock('../../../../../nodes/KlingExpand/helpers/polling', () => {
	const actual = jest.requireActual('../../../../../nodes/KlingExpand/helpers/polling');
	return { ...actual, nextPollDelay: jest.fn(actual.nextPollDelay) };
});

/** Checks as often as allowed; nothing here is timed, the tests wait for events. */
const schedule: HoldSchedule = {
	minIntervalMs: 1,
	maxIntervalMs: 5,
	growth: 0.25,
	holdLimitMs: 60_000,
};

/** Whether `promise` settles within a few of the holder's ticks. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
	let timer: NodeJS.Timeout | undefined;
	const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 50)));
	const settled = await Promise.race([promise.then(() => true), late]);
	clearTimeout(timer);
	return settled;
}

/** A pool of one slot, taken by the task the holder is given. */
async function heldPool(
	fetchEnded: (taskIds: string[]) => Promise<Set<string>>,
	options: { items?: number; schedule?: Partial<HoldSchedule>; signal?: AbortSignal } = {},
) {
	const pool = new SlotPool(1);
	const holder = new SlotHolder(
		pool,
		fetchEnded,
		{ ...schedule, ...options.schedule },
		options.signal,
		options.items ?? 2,
	);
	holder.hold('t-1', await pool.acquire(1));
	return { pool, holder };
}

describe('SlotHolder', () => {
	it("gives a task's slots back when a check sees it end, so the next item gets them", async () => {
		const fetchEnded = jest.fn(async () => new Set(['t-1']));
		const { pool, holder } = await heldPool(fetchEnded);
		await pool.acquire(1);
		expect(fetchEnded).toHaveBeenCalledWith(['t-1']);
		expect(holder.checks).toBeGreaterThan(0);
		holder.stop();
		await holder.settled();
	});

	it("waits between checks as the poll schedule says, over the oldest held task's age", async () => {
		const fetchEnded = jest.fn(async () => new Set(['t-1']));
		const { pool, holder } = await heldPool(fetchEnded);
		await pool.acquire(1);
		expect(polling.nextPollDelay).toHaveBeenCalledWith(expect.any(Number), schedule);
		holder.stop();
		await holder.settled();
	});

	it('keeps the slots while the task runs', async () => {
		const fetchEnded = jest.fn(async () => new Set<string>());
		const { pool, holder } = await heldPool(fetchEnded);
		expect(await settlesSoon(pool.acquire(1))).toBe(false);
		expect(fetchEnded).toHaveBeenCalled();
		holder.stop();
		await holder.settled();
	});

	it('sends no check while no item waits for a slot', async () => {
		const fetchEnded = jest.fn(async () => new Set<string>());
		const { holder } = await heldPool(fetchEnded);
		await settlesSoon(new Promise(() => {}));
		expect(fetchEnded).not.toHaveBeenCalled();
		expect(holder.checks).toBe(0);
		holder.stop();
		await holder.settled();
	});

	it('asks again on the next tick after a failed check', async () => {
		const fetchEnded = jest
			.fn<Promise<Set<string>>, [string[]]>()
			.mockRejectedValueOnce(new Error('list failed'))
			.mockResolvedValue(new Set(['t-1']));
		const { pool, holder } = await heldPool(fetchEnded);
		await pool.acquire(1);
		expect(fetchEnded).toHaveBeenCalledTimes(2);
		holder.stop();
		await holder.settled();
	});

	it('gives back the slots of a task held past the hold limit without asking', async () => {
		const fetchEnded = jest.fn(async () => new Set<string>());
		// A limit of 0 is passed at the first tick whatever the clocks say (a 1 ms timer can fire
		// before Date.now() moves on, as it did in CI).
		const { pool, holder } = await heldPool(fetchEnded, { schedule: { holdLimitMs: 0 } });
		await pool.acquire(1);
		expect(fetchEnded).not.toHaveBeenCalled();
		await holder.settled();
	});

	it('stops and gives every slot back once the last item has settled', async () => {
		const fetchEnded = jest.fn(async () => new Set<string>());
		const { pool, holder } = await heldPool(fetchEnded, { items: 2 });
		holder.itemSettled();
		expect(await settlesSoon(pool.acquire(1))).toBe(false);
		holder.itemSettled();
		await holder.settled();
		// The waiter above got the freed slot; a task held after the stop gives its slot back at once.
		holder.hold('t-2', 1);
		expect(await settlesSoon(pool.acquire(1))).toBe(true);
	});

	it('stops and gives the slots back when the execution is cancelled', async () => {
		const controller = new AbortController();
		const fetchEnded = jest.fn(async () => new Set<string>());
		const { pool, holder } = await heldPool(fetchEnded, { signal: controller.signal });
		const next = pool.acquire(1);
		controller.abort();
		await holder.settled();
		expect(await settlesSoon(next)).toBe(true);
	});
});
