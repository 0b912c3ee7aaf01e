-- ratings: ratings of a match partner, per-user rating stats kept in step
-- with them, and abuse reports. Runs as role sc_ratings with search_path =
-- ratings (see common/migrate.h). Users and matches live in other schemas:
-- their ids are plain bigints here (no cross-schema foreign keys).

-- One rating per match and rater; the rated user is the match's other
-- member (checked against matchmaking before the insert).
CREATE TABLE ratings (
	id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	match_id                bigint NOT NULL CHECK (match_id > 0),
	rater_id                bigint NOT NULL CHECK (rater_id > 0),
	rated_id                bigint NOT NULL CHECK (rated_id > 0),
	score                   smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
	comment                 text CHECK (char_length(comment) <= 1000),
	would_collaborate_again boolean NOT NULL,
	created_at              timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT ratings_match_rater_key UNIQUE (match_id, rater_id),
	CONSTRAINT ratings_not_self_check CHECK (rater_id <> rated_id)
);
-- The two lists (received, given), newest first, keyset on (created_at, id).
CREATE INDEX ratings_rated_idx ON ratings (rated_id, created_at DESC, id DESC);
CREATE INDEX ratings_rater_idx ON ratings (rater_id, created_at DESC, id DESC);

-- Running totals per rated user, changed in the same statement as each
-- insert into ratings (a CTE upsert), so reading stats never scans ratings.
-- A user without a row has no ratings.
CREATE TABLE user_stats (
	user_id                 bigint PRIMARY KEY CHECK (user_id > 0),
	ratings_count           integer NOT NULL DEFAULT 0
	                        CHECK (ratings_count >= 0),
	score_sum               bigint NOT NULL DEFAULT 0
	                        CONSTRAINT user_stats_score_sum_check CHECK (score_sum BETWEEN ratings_count
	                                             AND 5::bigint * ratings_count),
	collaborate_again_count integer NOT NULL DEFAULT 0
	                        CONSTRAINT user_stats_again_check CHECK (collaborate_again_count BETWEEN 0
	                                                     AND ratings_count),
	updated_at              timestamptz NOT NULL DEFAULT now()
);

-- Abuse reports, for moderation. A reporter has at most one open report
-- about the same user; once it is closed they may report again.
CREATE TABLE reports (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	reporter_id      bigint NOT NULL CHECK (reporter_id > 0),
	reported_user_id bigint NOT NULL CHECK (reported_user_id > 0),
	match_id         bigint CHECK (match_id > 0),
	reason           text NOT NULL CHECK (reason IN ('harassment', 'no_show',
	                                  'inappropriate', 'spam', 'other')),
	details          text CHECK (char_length(details) <= 1000),
	status           text NOT NULL DEFAULT 'open'
	                 CHECK (status IN ('open', 'closed')),
	created_at       timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT reports_not_self_check CHECK (reporter_id <> reported_user_id)
);
CREATE UNIQUE INDEX reports_open_pair_key ON reports (reporter_id,
	reported_user_id) WHERE status = 'open';
-- Moderation reads the reports about a user, newest first.
CREATE INDEX reports_reported_idx ON reports (reported_user_id,
	created_at DESC, id DESC);
