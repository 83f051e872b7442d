import type { ApiOperation, ApiSurface } from './types';

export type Route =
	| { kind: 'api'; operation: ApiOperation; surface: ApiSurface; taskId?: string }
	| { kind: 'result'; taskId: string; index: number; watermarked: boolean }
	/** The HTML page the `redirect` fault points to, as a login page behind a wrong base URL. */
	| { kind: 'page' }
	/** 1202: known path, wrong method; 1203: no such resource. */
	| { kind: 'notFound'; code: 1202 | 1203 };

const EXPAND_PATH = '/v1/images/editing/expand';
const COMET_PREFIX = '/kling';
export const LOGIN_PAGE = '/login';

/**
 * Kling direct serves the expand paths bare; CometAPI serves the same paths under `/kling`
 * plus OpenAI-style `/v1/models`. Result images sit under `/results` without auth, like a CDN.
 */
export function matchRoute(method: string, pathname: string): Route {
	const result = /^\/results\/([^/]+)\/(\d+)(-watermark)?\.png$/.exec(pathname);
	if (result) {
		if (method !== 'GET') return { kind: 'notFound', code: 1202 };
		return {
			kind: 'result',
			taskId: decodePathSegment(result[1]),
			index: Number(result[2]),
			watermarked: !!result[3],
		};
	}
	if (pathname === LOGIN_PAGE) return { kind: 'page' };
	if (pathname === '/v1/models') {
		return method === 'GET'
			? { kind: 'api', operation: 'models', surface: 'comet' }
			: { kind: 'notFound', code: 1202 };
	}

	const surface: ApiSurface = pathname.startsWith(`${COMET_PREFIX}/`) ? 'comet' : 'kling';
	const path = surface === 'comet' ? pathname.slice(COMET_PREFIX.length) : pathname;
	if (path === EXPAND_PATH) {
		if (method === 'POST') return { kind: 'api', operation: 'create', surface };
		if (method === 'GET') return { kind: 'api', operation: 'list', surface };
		return { kind: 'notFound', code: 1202 };
	}
	const single = new RegExp(`^${EXPAND_PATH}/([^/]+)$`).exec(path);
	if (single) {
		if (method !== 'GET') return { kind: 'notFound', code: 1202 };
		return { kind: 'api', operation: 'query', surface, taskId: decodePathSegment(single[1]) };
	}
	return { kind: 'notFound', code: 1203 };
}

function decodePathSegment(segment: string): string {
	try {
		return decodeURIComponent(segment);
	} catch {
		return segment;
	}
}
