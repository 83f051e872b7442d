/**
 * `npm run screenshots`: the package as the n8n editor shows it, saved to docs/screenshots/.
 *
 * Same set-up as test:n8n (cached n8n, the packed package, the simulator, the example workflows), then
 * `n8n start` and Debian's Chromium (/usr/bin/chromium; `apt-get install -y chromium`) driven by
 * playwright-core: never a downloaded browser.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium, type Page } from 'playwright-core';

import { REPO_ROOT } from './config';
import { prepare, removeWorkDir, startServer, type Environment } from './environment';
import { TEST_OWNER } from './rest';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Headless on a machine without outside network: no background fetches, no GPU, no sandbox (we run as root). */
const CHROMIUM_FLAGS = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--no-first-run',
];
const OUT_DIR = join(REPO_ROOT, 'docs', 'screenshots');

const log = (line: string) => console.log(`[screenshots] ${line}`);

async function main(): Promise<void> {
	if (!existsSync(CHROMIUM))
		throw new Error(
			`${CHROMIUM} is missing: install Debian's browser with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`,
		);
	mkdirSync(OUT_DIR, { recursive: true });
	let environment: Environment | undefined;
	const browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_FLAGS,
	});
	try {
		environment = await prepare(log, { forScreenshots: true });
		const server = await startServer(environment);
		log(`n8n ${server.url} ready`);
		const { workflows } = environment;

		for (const theme of ['light', 'dark'] as const) {
			// Tall enough for the whole Submit and Wait panel without scrolling.
			const context = await browser.newContext({
				viewport: { width: 1440, height: 1300 },
				deviceScaleFactor: 1,
				colorScheme: theme,
			});
			// The editor reads its theme from local storage before it renders.
			await context.addInitScript(
				(value) => window.localStorage.setItem('N8N_THEME', value),
				theme,
			);
			const page = await context.newPage();
			await signIn(page, server.url);
			const suffix = theme === 'dark' ? '-dark' : '';

			await openWorkflow(page, server.url, workflows.localImageToDisk.id);
			await save(page, `workflow-local-image-to-disk${suffix}`);
			await openWorkflow(page, server.url, workflows.triggerToSlack.id);
			await save(page, `workflow-trigger-to-slack${suffix}`);
			if (theme === 'dark') {
				await context.close();
				continue;
			}
			await openWorkflow(page, server.url, workflows.submitWithCallback.id);
			await save(page, 'workflow-submit-with-callback');
			await openNode(page, 'Submit Expansion');
			await save(page, 'node-submit-with-callback-url');

			await openWorkflow(page, server.url, workflows.localImageToDisk.id);
			await openNode(page, 'Expand to 16:9');
			await save(page, 'node-submit-and-wait-aspect-ratio');
			await chooseOption(page, 'Expansion Mode', 'Ratios per Side');
			await save(page, 'node-submit-and-wait-ratios');
			await chooseOption(page, 'Expansion Mode', 'Target Aspect Ratio');
			await chooseOption(page, 'Wait Mode', 'Callback (Resume)');
			await save(page, 'node-submit-and-wait-callback');

			await openWorkflow(page, server.url, workflows.triggerToSlack.id);
			await openNode(page, 'Kling Expand Trigger');
			// Inside the panel: the sticky note behind it says "Production URL" too.
			const panel = page.locator('[data-test-id="ndv"]');
			await panel.getByText('Webhook URLs', { exact: true }).first().click();
			await panel.getByText('Production URL', { exact: true }).first().click();
			await save(page, 'trigger-webhook-urls');

			await page.goto(`${server.url}/home/credentials`);
			await page.getByText('Kling simulator', { exact: true }).first().click();
			await page.getByText('Base URL Override').first().waitFor({ timeout: 15_000 });
			await save(page, 'credential-kling-api');
			await context.close();
		}
	} finally {
		await browser.close();
		await environment?.close();
		if (environment) removeWorkDir(environment);
	}
}

async function signIn(page: Page, baseUrl: string): Promise<void> {
	await page.goto(`${baseUrl}/signin`);
	await page
		.locator('input[type="email"], input[name="emailOrLdapLoginId"], input[name="email"]')
		.first()
		.fill(TEST_OWNER.email);
	await page.locator('input[type="password"]').first().fill(TEST_OWNER.password);
	await page.getByRole('button', { name: /sign in/i }).click();
	await page.waitForURL((url) => !url.pathname.startsWith('/signin'), { timeout: 30_000 });
}

async function openWorkflow(page: Page, baseUrl: string, workflowId: string): Promise<void> {
	await page.goto(`${baseUrl}/workflow/${workflowId}`);
	await page.locator('[data-test-id="canvas-node"]').first().waitFor({ timeout: 30_000 });
	// Let the canvas fit the view and the icons load.
	await page.waitForTimeout(1500);
	await dismissPopups(page);
}

async function openNode(page: Page, name: string): Promise<void> {
	await page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`).dblclick();
	await page.locator('[data-test-id="ndv"]').first().waitFor({ timeout: 15_000 });
	await page.waitForTimeout(800);
}

/** Opens the options field labelled `label` in the node panel and picks `option`. */
async function chooseOption(page: Page, label: string, option: string): Promise<void> {
	const field = page
		.locator('[data-test-id="parameter-input"], .parameter-item')
		.filter({ hasText: label })
		.first();
	await field.locator('input').first().click();
	await page
		.getByRole('option', { name: option })
		.or(page.locator('.el-select-dropdown__item', { hasText: option }))
		.first()
		.click();
	await page.waitForTimeout(500);
}

async function dismissPopups(page: Page): Promise<void> {
	for (const name of [/got it/i, /dismiss/i, /close/i]) {
		const button = page.getByRole('button', { name }).first();
		if (await button.isVisible().catch(() => false)) await button.click().catch(() => undefined);
	}
}

async function save(page: Page, name: string): Promise<void> {
	// Park the pointer in a corner so no hover toolbar or tooltip is captured, and let animations end.
	await page.mouse.move(1, 1);
	await page.waitForTimeout(600);
	const path = join(OUT_DIR, `${name}.png`);
	await page.screenshot({ path });
	log(`saved ${path}`);
}

main().then(
	() => process.exit(0),
	(error: Error) => {
		console.error(error);
		process.exit(1);
	},
);
