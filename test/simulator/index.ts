/** The embedded Kling simulator: a local stand-in for Kling direct and CometAPI. */
export { startSimulator } from './server';
export { SIMULATOR_DEFAULT_KEYS } from './auth';
export { signStandardWebhook } from './callbacks';
export { httpStatusForCode } from './errors';
export { canvasLayout, type CanvasLayout, type ExpansionRatios } from './expand';
export { makeTestImage, type TestImageOptions } from './images';
export { CREATE_LIMITS } from './validation';
export type * from './types';
