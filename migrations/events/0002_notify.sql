-- events: tell the events daemons (LISTEN events_changed) when a committed
-- transaction changed events or participants, so their read caches of the
-- events list drop what they hold (common/daemon.h sc_daemon_cache). Per
-- statement, and PostgreSQL folds equal notifications of one transaction
-- into one, so an import of many rows notifies once. Covers every writer:
-- the daemons, `events import`, and anyone with SQL.

CREATE FUNCTION notify_events_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('events_changed', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

CREATE TRIGGER events_notify
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON events
	FOR EACH STATEMENT EXECUTE FUNCTION notify_events_changed();

CREATE TRIGGER participants_notify
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants
	FOR EACH STATEMENT EXECUTE FUNCTION notify_events_changed();
