-- matchmaking: tell the matchmaking daemons (LISTEN matchmaking_changed)
-- when a committed transaction changed matches, so their read caches of
-- the matches lists drop what they hold (common/daemon.h sc_daemon_cache).
-- Per statement; PostgreSQL folds equal notifications of one transaction.

CREATE FUNCTION notify_matchmaking_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('matchmaking_changed', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

CREATE TRIGGER matches_notify
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON matches
	FOR EACH STATEMENT EXECUTE FUNCTION notify_matchmaking_changed();
