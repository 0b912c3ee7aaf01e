-- chat: the messages of event rooms and of matches' private rooms, owned by
-- the signaling daemon. Runs as role sc_chat with search_path = chat (see
-- common/migrate.h).
--
-- A message is stored before it is acknowledged or broadcast. The sender's
-- username and display name are copied in, so history reads need nothing
-- from auth (and show the name the message was sent under). Room ids point
-- into other daemons' schemas (events.events, matchmaking.matches), so
-- there is no foreign key: signaling checks access over the bus.

CREATE TABLE messages (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	room_kind    text NOT NULL CONSTRAINT messages_room_kind_check
	             CHECK (room_kind IN ('event', 'match')),
	room_id      bigint NOT NULL CONSTRAINT messages_room_id_check
	             CHECK (room_id > 0),
	user_id      bigint NOT NULL CONSTRAINT messages_user_id_check
	             CHECK (user_id > 0),
	username     text NOT NULL CONSTRAINT messages_username_check
	             CHECK (char_length(username) BETWEEN 1 AND 63),
	display_name text CONSTRAINT messages_display_name_check
	             CHECK (char_length(display_name) <= 100),
	type         text NOT NULL DEFAULT 'text'
	             CONSTRAINT messages_type_check
	             CHECK (type IN ('text', 'link')),
	content      text NOT NULL CONSTRAINT messages_content_check
	             CHECK (char_length(content) BETWEEN 1 AND 2000),
	-- The client's own id for the message: a retry with the same one
	-- finds the stored message instead of storing it twice.
	client_id    text CONSTRAINT messages_client_id_check
	             CHECK (char_length(client_id) BETWEEN 1 AND 64),
	created_at   timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT messages_client_key UNIQUE (user_id, client_id)
);

-- A room's history, newest first, paged by id.
CREATE INDEX messages_room_idx ON messages (room_kind, room_id, id DESC);
