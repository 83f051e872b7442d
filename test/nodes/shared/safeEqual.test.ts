import { safeEqual } from '../../../nodes/shared/safeEqual';

describe('safeEqual', () => {
	it('is true only for identical values, whatever their lengths', () => {
		expect(safeEqual('abc', 'abc')).toBe(true);
		expect(safeEqual(Buffer.from('abc'), 'abc')).toBe(true);
		expect(safeEqual('abc', 'abd')).toBe(false);
		expect(safeEqual('abc', 'abcd')).toBe(false);
		expect(safeEqual('', 'a')).toBe(false);
		expect(safeEqual('', '')).toBe(true);
	});
});
