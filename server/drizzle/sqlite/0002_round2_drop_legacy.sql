-- Hand-written (before the generated drops): round 1 kept the WeChat identity on the user row; move it to
-- wechat_identities. session_key is not carried over: it must be sealed with a key the database does not hold, and
-- the user's next silent login brings a fresh one (until then, session_key-based calls answer session_key_stale).
INSERT INTO `wechat_identities` (`openid`, `user_id`, `unionid`, `session_key_enc`, `session_key_at`, `created_at`, `updated_at`)
SELECT `openid`, `id`, `unionid`, NULL, NULL, `created_at`, `updated_at` FROM `users`;--> statement-breakpoint
DROP INDEX `users_openid_unique`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `openid`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `unionid`;--> statement-breakpoint
ALTER TABLE `sessions` DROP COLUMN `session_key`;