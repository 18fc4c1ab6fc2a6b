CREATE TABLE "access_tokens" (
	"app_id" text PRIMARY KEY NOT NULL,
	"token_enc" text,
	"expires_at" bigint DEFAULT 0 NOT NULL,
	"refresh_lock_until" bigint DEFAULT 0 NOT NULL,
	"refresh_lock_owner" text,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "app_secrets" (
	"name" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "code_exchanges" (
	"code_hash" text PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"owner" text NOT NULL,
	"reason" text,
	"errcode" integer,
	"detail" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "media" (
	"key" text PRIMARY KEY NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "password_credentials" (
	"user_id" text PRIMARY KEY NOT NULL,
	"username" text NOT NULL,
	"password_hash" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "password_credentials_username_unique" UNIQUE("username")
);
--> statement-breakpoint
CREATE TABLE "password_lockouts" (
	"username" text NOT NULL,
	"client_ip" text NOT NULL,
	"failures" integer NOT NULL,
	"window_started_at" bigint NOT NULL,
	"locked_until" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "password_lockouts_username_client_ip_pk" PRIMARY KEY("username","client_ip")
);
--> statement-breakpoint
CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"window_started_at" bigint NOT NULL,
	"count" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"method" text DEFAULT 'wechat' NOT NULL,
	"code_hash" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint,
	"wechat_checked_at" bigint,
	"wechat_check_valid" boolean,
	CONSTRAINT "sessions_code_hash_unique" UNIQUE("code_hash")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"nickname" text,
	"avatar_url" text,
	"avatar_media_key" text,
	"phone_e164" text,
	"phone_masked" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "wechat_identities" (
	"openid" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"unionid" text,
	"session_key_enc" text,
	"session_key_at" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "wechat_identities_user_id_unique" UNIQUE("user_id")
);
--> statement-breakpoint
CREATE TABLE "werun_steps" (
	"user_id" text NOT NULL,
	"date" text NOT NULL,
	"steps" integer NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "werun_steps_user_id_date_pk" PRIMARY KEY("user_id","date")
);
--> statement-breakpoint
ALTER TABLE "password_credentials" ADD CONSTRAINT "password_credentials_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_avatar_media_key_media_key_fk" FOREIGN KEY ("avatar_media_key") REFERENCES "public"."media"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wechat_identities" ADD CONSTRAINT "wechat_identities_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "werun_steps" ADD CONSTRAINT "werun_steps_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "code_exchanges_expires_at_idx" ON "code_exchanges" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "sessions_user_id_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "sessions_expires_at_idx" ON "sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "users_avatar_media_key_idx" ON "users" USING btree ("avatar_media_key");