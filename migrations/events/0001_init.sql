-- events: the dance events (loaded by `events import`) and who joined which.
-- Runs as role sc_events with search_path = events (see common/migrate.h).

CREATE TABLE events (
	id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	worldsdc_id       text NOT NULL CONSTRAINT events_worldsdc_id_key UNIQUE
	                  CONSTRAINT events_worldsdc_id_check
	                  CHECK (worldsdc_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
	name              text NOT NULL CONSTRAINT events_name_check
	                  CHECK (char_length(name) BETWEEN 1 AND 200),
	location          text NOT NULL CONSTRAINT events_location_check
	                  CHECK (char_length(location) BETWEEN 1 AND 200),
	start_date        date NOT NULL,
	end_date          date NOT NULL,
	description       text CONSTRAINT events_description_check
	                  CHECK (char_length(description) <= 5000),
	-- Changed only in the statement that inserts or deletes a participants
	-- row (see services/events/join.c), never recounted.
	participant_count integer NOT NULL DEFAULT 0
	                  CONSTRAINT events_participant_count_check
	                  CHECK (participant_count >= 0),
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT events_dates_check CHECK (end_date >= start_date)
);
-- The list's keyset (upcoming: ascending, past: a backward scan).
CREATE INDEX events_start_idx ON events (start_date, id);
-- Splits upcoming from past.
CREATE INDEX events_end_idx ON events (end_date);

-- user_id is an auth user; there is no foreign key across schemas.
CREATE TABLE participants (
	event_id  bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	user_id   bigint NOT NULL,
	joined_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (event_id, user_id)
);
-- The participants list's keyset.
CREATE INDEX participants_list_idx ON participants (event_id, joined_at,
                                                     user_id);
-- The events a user joined.
CREATE INDEX participants_user_idx ON participants (user_id);
