-- matchmaking: match requests between two participants of an event and
-- their state machine. Runs as role sc_matchmaking with search_path =
-- matchmaking (see common/migrate.h).
--
-- States: pending -> accepted | rejected | cancelled;
--         accepted -> completed | cancelled;
--         rejected, cancelled, completed are final.
-- The daemon only ever moves a row along an allowed edge (its UPDATE names
-- the allowed from-states); the trigger below refuses anything else, so a
-- bug or a hand-written UPDATE cannot corrupt the history either.

CREATE TABLE matches (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id     bigint NOT NULL CONSTRAINT matches_event_id_check
	             CHECK (event_id > 0),
	requester_id bigint NOT NULL CONSTRAINT matches_requester_id_check
	             CHECK (requester_id > 0),
	target_id    bigint NOT NULL CONSTRAINT matches_target_id_check
	             CHECK (target_id > 0),
	status       text NOT NULL DEFAULT 'pending'
	             CONSTRAINT matches_status_check
	             CHECK (status IN ('pending', 'accepted', 'rejected',
	                               'cancelled', 'completed')),
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	-- When the target accepted or rejected.
	responded_at timestamptz,
	completed_at timestamptz,
	-- The pair without its direction: A asking B and B asking A are the
	-- same pair for the one-match-per-pair-per-event rule.
	user_low     bigint GENERATED ALWAYS AS
	             (least(requester_id, target_id)) STORED,
	user_high    bigint GENERATED ALWAYS AS
	             (greatest(requester_id, target_id)) STORED,
	CONSTRAINT matches_no_self_match CHECK (requester_id <> target_id),
	-- The timestamps agree with the state.
	CONSTRAINT matches_pending_check CHECK (status <> 'pending' OR
	                                        (responded_at IS NULL AND
	                                         completed_at IS NULL)),
	CONSTRAINT matches_responded_check
	           CHECK (status NOT IN ('accepted', 'rejected', 'completed') OR
	                  responded_at IS NOT NULL),
	CONSTRAINT matches_completed_check
	           CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);

-- One live match per pair per event. A cancelled match does not count (the
-- pair may ask again); a rejected one does (no asking again after a no).
CREATE UNIQUE INDEX matches_pair_key ON matches (event_id, user_low, user_high)
	WHERE status <> 'cancelled';

-- "My matches", newest first: one index per side of the match (the list
-- query reads both and merges), and one for lists narrowed to an event.
CREATE INDEX matches_requester_idx
	ON matches (requester_id, created_at DESC, id DESC);
CREATE INDEX matches_target_idx
	ON matches (target_id, created_at DESC, id DESC);
CREATE INDEX matches_event_idx
	ON matches (event_id, created_at DESC, id DESC);

-- The state machine and the immutable columns, enforced in the database.
-- A row whose status does not change is not a transition and may be
-- updated (e.g. a later column backfill); its event, members and creation
-- time never change.
CREATE FUNCTION matches_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id <> OLD.id OR NEW.event_id <> OLD.event_id
	   OR NEW.requester_id <> OLD.requester_id
	   OR NEW.target_id <> OLD.target_id
	   OR NEW.created_at <> OLD.created_at THEN
		RAISE EXCEPTION 'match %: its event, members and creation time '
		                'cannot change', OLD.id
			USING ERRCODE = 'check_violation',
			      CONSTRAINT = 'matches_immutable';
	END IF;
	IF NEW.status <> OLD.status AND NOT (
	   (OLD.status = 'pending' AND
	    NEW.status IN ('accepted', 'rejected', 'cancelled')) OR
	   (OLD.status = 'accepted' AND
	    NEW.status IN ('completed', 'cancelled'))) THEN
		RAISE EXCEPTION 'match %: cannot go from % to %',
		                OLD.id, OLD.status, NEW.status
			USING ERRCODE = 'check_violation',
			      CONSTRAINT = 'matches_transition';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER matches_guard BEFORE UPDATE ON matches
	FOR EACH ROW EXECUTE FUNCTION matches_guard();
