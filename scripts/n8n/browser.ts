/**
 * Debian's Chromium (/usr/bin/chromium) driven by playwright-core, and the editor pages every browser
 * script opens: signing in, a workflow, a node's panel. Never a downloaded browser.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { chromium, selectors, type Browser, type BrowserContext, type Page } from 'playwright-core';

import { TEST_OWNER } from './rest';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
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

export async function launchChromium(): Promise<Browser> {
	if (!existsSync(CHROMIUM))
		throw new Error(
			`${CHROMIUM} is missing: install Debian's browser with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`,
		);
	// n8n's editor marks its elements with data-test-id (playwright's getByTestId reads data-testid).
	selectors.setTestIdAttribute('data-test-id');
	return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/** A browser context in the given theme, tall enough for the whole Submit and Wait panel without scrolling. */
export async function editorContext(
	browser: Browser,
	theme: 'light' | 'dark' = 'light',
): Promise<BrowserContext> {
	const context = await browser.newContext({
		viewport: { width: 1440, height: 1300 },
		deviceScaleFactor: 1,
		colorScheme: theme,
	});
	// The editor reads its theme from local storage before it renders.
	await context.addInitScript((value) => window.localStorage.setItem('N8N_THEME', value), theme);
	return context;
}

export async function signIn(page: Page, baseUrl: string): Promise<void> {
	await page.goto(`${baseUrl}/signin`);
	await page
		.locator('input[type="email"], input[name="emailOrLdapLoginId"], input[name="email"]')
		.first()
		.fill(TEST_OWNER.email);
	await page.locator('input[type="password"]').first().fill(TEST_OWNER.password);
	await page.getByRole('button', { name: /sign in/i }).click();
	await page.waitForURL((url) => !url.pathname.startsWith('/signin'), { timeout: 30_000 });
}

export async function openWorkflow(page: Page, baseUrl: string, workflowId: string): Promise<void> {
	await page.goto(`${baseUrl}/workflow/${workflowId}`);
	await page.locator('[data-test-id="canvas-node"]').first().waitFor({ timeout: 30_000 });
	// Let the canvas fit the view and the icons load.
	await page.waitForTimeout(1500);
	await dismissPopups(page);
}

export async function openNode(page: Page, name: string): Promise<void> {
	await page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`).dblclick();
	await page.locator('[data-test-id="ndv"]').first().waitFor({ timeout: 15_000 });
	await page.waitForTimeout(800);
}

/** Opens the options field labelled `label` in the node panel and picks `option`. */
export async function chooseOption(page: Page, label: string, option: string): Promise<void> {
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

export async function dismissPopups(page: Page): Promise<void> {
	for (const name of [/got it/i, /dismiss/i, /close/i]) {
		const button = page.getByRole('button', { name }).first();
		if (await button.isVisible().catch(() => false)) await button.click().catch(() => undefined);
	}
}

/** Saves a screenshot of the page as `<dir>/<name>.png`, the pointer parked and animations ended. */
export async function saveScreenshot(page: Page, dir: string, name: string): Promise<string> {
	// Park the pointer in a corner so no hover toolbar or tooltip is captured, and let animations end.
	await page.mouse.move(1, 1);
	await page.waitForTimeout(600);
	const path = join(dir, `${name}.png`);
	await page.screenshot({ path });
	return path;
}
