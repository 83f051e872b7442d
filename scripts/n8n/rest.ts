import { parse } from 'flatted';

export interface Owner {
	email: string;
	firstName: string;
	lastName: string;
	password: string;
}

/** The instance owner this test creates in its throw-away n8n: nothing here is a real secret. */
export const TEST_OWNER: Owner = {
	email: 'owner@example.com',
	firstName: 'Kling',
	lastName: 'Tester',
	password: 'Kling-e2e-Passw0rd',
};

export interface ExecutionSummary {
	id: string;
	workflowId: string;
	status: 'new' | 'running' | 'success' | 'error' | 'crashed' | 'waiting' | 'canceled' | 'unknown';
	mode: string;
	startedAt: string | null;
	stoppedAt: string | null;
	waitTill: string | null;
}

export interface ExecutionDetail extends ExecutionSummary {
	/** The run data, decoded from the `flatted` text n8n stores. */
	data: {
		resultData: {
			runData: Record<
				string,
				{ data?: { main?: ({ json: Record<string, unknown> }[] | null)[] } }[]
			>;
			error?: { message?: string; description?: string };
			lastNodeExecuted?: string;
		};
	};
}

/**
 * The editor's REST API (`/rest/...`) with a logged-in session. n8n binds the session cookie to a
 * `browser-id` header, so every request sends the same one.
 */
export class RestClient {
	private cookie = '';
	private readonly browserId = 'kling-expand-e2e';

	constructor(readonly baseUrl: string) {}

	/** Creates the owner on a fresh instance (n8n answers 400 if there already is one), then logs in. */
	async setUpOwnerAndLogIn(owner: Owner = TEST_OWNER): Promise<void> {
		const setup = await this.request('POST', '/rest/owner/setup', owner, false);
		if (!setup.ok && setup.status !== 400)
			throw new Error(`owner setup answered ${setup.status}: ${await setup.text()}`);
		await this.logIn(owner);
	}

	async logIn(owner: Owner = TEST_OWNER): Promise<void> {
		const response = await this.request(
			'POST',
			'/rest/login',
			{ emailOrLdapLoginId: owner.email, password: owner.password },
			false,
		);
		if (!response.ok)
			throw new Error(`login answered ${response.status}: ${await response.text()}`);
		const cookie = response.headers.getSetCookie().find((line) => line.startsWith('n8n-auth='));
		if (!cookie) throw new Error('login set no n8n-auth cookie');
		this.cookie = cookie.split(';')[0];
	}

	/** Newest first, as the editor lists them. */
	async executions(workflowId: string): Promise<ExecutionSummary[]> {
		const filter = encodeURIComponent(JSON.stringify({ workflowId }));
		const body = (await this.json('GET', `/rest/executions?filter=${filter}&limit=100`)) as {
			data: { results: ExecutionSummary[] };
		};
		return body.data.results;
	}

	async execution(id: string): Promise<ExecutionDetail> {
		const body = (await this.json('GET', `/rest/executions/${encodeURIComponent(id)}`)) as {
			data: ExecutionSummary & { data: string };
		};
		return { ...body.data, data: parse(body.data.data) };
	}

	async json(method: string, path: string, body?: unknown): Promise<unknown> {
		const response = await this.request(method, path, body);
		const text = await response.text();
		if (!response.ok)
			throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
		return JSON.parse(text) as unknown;
	}

	async request(
		method: string,
		path: string,
		body?: unknown,
		authenticated = true,
	): Promise<Response> {
		const headers: Record<string, string> = { 'browser-id': this.browserId };
		if (body !== undefined) headers['content-type'] = 'application/json';
		if (authenticated) {
			if (!this.cookie) throw new Error(`${method} ${path}: not logged in`);
			headers.cookie = this.cookie;
		}
		return await fetch(`${this.baseUrl}${path}`, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
		});
	}
}
