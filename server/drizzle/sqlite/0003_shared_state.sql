CREATE TABLE `app_secrets` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `code_exchanges` (
	`code_hash` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`owner` text NOT NULL,
	`reason` text,
	`errcode` integer,
	`detail` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `code_exchanges_expires_at_idx` ON `code_exchanges` (`expires_at`);--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`window_started_at` integer NOT NULL,
	`count` integer NOT NULL
);
