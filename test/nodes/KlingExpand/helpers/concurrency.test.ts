import { mapSettled, SlotPool } from '../../../../nodes/KlingExpand/helpers/concurrency';

/** Lets every promise callback that is ready run (grants resolve on the microtask queue). */
const settle = async () => await new Promise((resolve) => setImmediate(resolve));

/** A promise whose resolution the test decides. */
function deferred<T = void>() {
	let resolve!: (value: T) => void;
	let reject!: (reason: unknown) => void;
	const promise = new Promise<T>((res, rej) => {
		resolve = res;
		reject = rej;
	});
	return { promise, resolve, reject };
}

describe('SlotPool', () => {
	it('grants slots at once while enough are free, and returns how many it granted', async () => {
		const pool = new SlotPool(5);
		await expect(pool.acquire(2)).resolves.toBe(2);
		await expect(pool.acquire(3)).resolves.toBe(3);
		expect(pool.waiting).toBe(0);
	});

	it('caps a request larger than the capacity at the capacity, so a 9-image task can run under 5', async () => {
		const pool = new SlotPool(5);
		await expect(pool.acquire(9)).resolves.toBe(5);
		// All five are now held: the next request waits.
		let granted = false;
		void pool.acquire(1).then(() => (granted = true));
		await settle();
		expect(granted).toBe(false);
		pool.release(5);
		await settle();
		expect(granted).toBe(true);
	});

	it('makes a request wait while too few slots are free, and counts it in `waiting`', async () => {
		const pool = new SlotPool(2);
		await pool.acquire(2);
		const order: string[] = [];
		void pool.acquire(1).then(() => order.push('a'));
		void pool.acquire(1).then(() => order.push('b'));
		await settle();
		expect(order).toEqual([]);
		expect(pool.waiting).toBe(2);
	});

	it('wakes waiters in the order they asked when slots are released', async () => {
		const pool = new SlotPool(2);
		await pool.acquire(2);
		const order: string[] = [];
		void pool.acquire(1).then(() => order.push('first'));
		void pool.acquire(1).then(() => order.push('second'));
		void pool.acquire(1).then(() => order.push('third'));
		pool.release(1);
		await settle();
		expect(order).toEqual(['first']);
		expect(pool.waiting).toBe(2);
		pool.release(2);
		await settle();
		expect(order).toEqual(['first', 'second', 'third']);
		expect(pool.waiting).toBe(0);
	});

	it('serves first come, first served: a small request does not overtake a larger one waiting ahead of it', async () => {
		const pool = new SlotPool(3);
		await pool.acquire(2); // one slot free
		const order: string[] = [];
		void pool.acquire(2).then(() => order.push('large'));
		// One slot is free, but the large request asked first.
		void pool.acquire(1).then(() => order.push('small'));
		await settle();
		expect(order).toEqual([]);
		expect(pool.waiting).toBe(2);
		pool.release(1); // two free: the large one is served, none left for the small one
		await settle();
		expect(order).toEqual(['large']);
		expect(pool.waiting).toBe(1);
		pool.release(1);
		await settle();
		expect(order).toEqual(['large', 'small']);
	});

	it('takes a granted waiter’s slots from the free count, so later requests still wait', async () => {
		const pool = new SlotPool(2);
		await pool.acquire(2);
		const granted: number[] = [];
		void pool.acquire(2).then((n) => granted.push(n));
		pool.release(2);
		await settle();
		expect(granted).toEqual([2]);
		let late = false;
		void pool.acquire(1).then(() => (late = true));
		await settle();
		expect(late).toBe(false);
		expect(pool.waiting).toBe(1);
	});
});

describe('mapSettled', () => {
	it('returns the results in index order, whatever order the work finishes in', async () => {
		const gates = [deferred(), deferred(), deferred()];
		const running = mapSettled(3, 3, async (index) => {
			await gates[index].promise;
			return `result ${index}`;
		});
		gates[2].resolve();
		gates[0].resolve();
		gates[1].resolve();
		expect(await running).toEqual([
			{ status: 'fulfilled', value: 'result 0' },
			{ status: 'fulfilled', value: 'result 1' },
			{ status: 'fulfilled', value: 'result 2' },
		]);
	});

	it('runs at most `limit` at once and starts them in index order', async () => {
		const started: number[] = [];
		let active = 0;
		let peak = 0;
		const results = await mapSettled(7, 3, async (index) => {
			started.push(index);
			active++;
			peak = Math.max(peak, active);
			await settle();
			active--;
			return index;
		});
		expect(peak).toBe(3);
		expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
		expect(results.map((result) => result.status === 'fulfilled' && result.value)).toEqual([
			0, 1, 2, 3, 4, 5, 6,
		]);
	});

	it('starts the next index as soon as one finishes, not after the whole wave', async () => {
		const gates = [deferred(), deferred(), deferred()];
		const started: number[] = [];
		const running = mapSettled(3, 2, async (index) => {
			started.push(index);
			await gates[index].promise;
		});
		await settle();
		expect(started).toEqual([0, 1]);
		gates[1].resolve();
		await settle();
		expect(started).toEqual([0, 1, 2]);
		gates[0].resolve();
		gates[2].resolve();
		await running;
	});

	it('runs one at a time under a limit of 1, and still runs under a limit of 0', async () => {
		for (const limit of [1, 0]) {
			let active = 0;
			let peak = 0;
			const results = await mapSettled(4, limit, async () => {
				active++;
				peak = Math.max(peak, active);
				await settle();
				active--;
			});
			expect(peak).toBe(1);
			expect(results).toHaveLength(4);
		}
	});

	it('settles a failure as rejected with its reason and goes on with the others', async () => {
		const ran: number[] = [];
		const failure = new Error('item 1 failed');
		const results = await mapSettled(4, 2, async (index) => {
			ran.push(index);
			if (index === 1) throw failure;
			await settle();
			return index * 10;
		});
		expect(ran.sort()).toEqual([0, 1, 2, 3]);
		expect(results).toEqual([
			{ status: 'fulfilled', value: 0 },
			{ status: 'rejected', reason: failure },
			{ status: 'fulfilled', value: 20 },
			{ status: 'fulfilled', value: 30 },
		]);
	});

	it('returns an empty list for no work, without calling it', async () => {
		const work = jest.fn(async () => 1);
		await expect(mapSettled(0, 3, work)).resolves.toEqual([]);
		expect(work).not.toHaveBeenCalled();
	});
});
