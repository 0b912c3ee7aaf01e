-- auth: users, refresh sessions, single-use email tokens, and the mail outbox.
-- Runs as role sc_auth with search_path = auth (see common/migrate.h).

CREATE TABLE users (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	username       text NOT NULL CONSTRAINT users_username_key UNIQUE
	               CONSTRAINT users_username_check
	               CHECK (username ~ '^[a-z0-9_.-]{3,30}$'),
	email          text NOT NULL CONSTRAINT users_email_key UNIQUE
	               CONSTRAINT users_email_check
	               CHECK (email = lower(email) AND char_length(email) <= 254),
	email_verified boolean NOT NULL DEFAULT false,
	password_hash  text NOT NULL,
	display_name   text CHECK (char_length(display_name) <= 50),
	avatar_url     text CHECK (char_length(avatar_url) <= 2048),
	wsdc_id        integer CHECK (wsdc_id BETWEEN 1 AND 99999999),
	bio            text CHECK (char_length(bio) <= 500),
	created_at     timestamptz NOT NULL DEFAULT now(),
	updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per issued refresh token; a login starts a family, each refresh
-- marks its token used and issues the next one in the same family.
CREATE TABLE refresh_tokens (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	family_id  uuid NOT NULL,
	user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz,
	revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE email_tokens (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       text NOT NULL CHECK (kind IN ('verify', 'reset')),
	token_hash bytea NOT NULL CONSTRAINT email_tokens_hash_key UNIQUE,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, kind);

-- Written in the same statement as the token a mail carries; delivered
-- (and sent_at set) by the daemon's outbox loop.
CREATE TABLE mail_outbox (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind       text NOT NULL,
	to_address text NOT NULL,
	subject    text NOT NULL,
	body       text NOT NULL,
	link       text,
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at    timestamptz
);
CREATE INDEX mail_outbox_pending_idx ON mail_outbox (id) WHERE sent_at IS NULL;
