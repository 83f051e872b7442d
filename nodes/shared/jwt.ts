import { createHmac } from 'node:crypto';

const base64url = (input: string | Buffer) => Buffer.from(input).toString('base64url');

/**
 * Signs the short-lived token Kling expects from an access key + secret key: HS256, `iss` = access
 * key, valid from 5 s ago for 30 minutes.
 * @see https://app.klingai.com/global/dev/document-api/apiReference/commonInfo
 */
export function signKlingJwt(
	accessKey: string,
	secretKey: string,
	nowSeconds = Math.floor(Date.now() / 1000),
): string {
	const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
	const claims = base64url(
		JSON.stringify({ iss: accessKey, exp: nowSeconds + 1800, nbf: nowSeconds - 5 }),
	);
	const signature = createHmac('sha256', secretKey)
		.update(`${header}.${claims}`)
		.digest('base64url');
	return `${header}.${claims}.${signature}`;
}
