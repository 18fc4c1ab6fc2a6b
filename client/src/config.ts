/**
 * App settings, inlined at build time from client/.env* (or the build's environment): the bundle never reads
 * process.env at run time.
 */

/**
 * Apps that demand an account: a user whose profile has no username (WeChat-only) is sent to the account page right
 * after the silent login, and comes back once bound or signed up. Default off.
 */
export const REQUIRE_BINDING = process.env.TARO_APP_REQUIRE_BINDING === 'true';
