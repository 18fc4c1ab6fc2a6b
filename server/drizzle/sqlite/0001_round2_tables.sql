CREATE TABLE `access_tokens` (
	`app_id` text PRIMARY KEY NOT NULL,
	`token_enc` text,
	`expires_at` integer DEFAULT 0 NOT NULL,
	`refresh_lock_until` integer DEFAULT 0 NOT NULL,
	`refresh_lock_owner` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `media` (
	`key` text PRIMARY KEY NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `password_credentials` (
	`user_id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `password_credentials_username_unique` ON `password_credentials` (`username`);--> statement-breakpoint
CREATE TABLE `password_lockouts` (
	`username` text NOT NULL,
	`client_ip` text NOT NULL,
	`failures` integer NOT NULL,
	`window_started_at` integer NOT NULL,
	`locked_until` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`username`, `client_ip`)
);
--> statement-breakpoint
CREATE TABLE `wechat_identities` (
	`openid` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`unionid` text,
	`session_key_enc` text,
	`session_key_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `wechat_identities_user_id_unique` ON `wechat_identities` (`user_id`);--> statement-breakpoint
CREATE TABLE `werun_steps` (
	`user_id` text NOT NULL,
	`date` text NOT NULL,
	`steps` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `date`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `sessions` ADD `method` text DEFAULT 'wechat' NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `wechat_checked_at` integer;--> statement-breakpoint
ALTER TABLE `sessions` ADD `wechat_check_valid` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `avatar_media_key` text;--> statement-breakpoint
ALTER TABLE `users` ADD `phone_e164` text;--> statement-breakpoint
ALTER TABLE `users` ADD `phone_masked` text;--> statement-breakpoint
CREATE INDEX `users_avatar_media_key_idx` ON `users` (`avatar_media_key`);