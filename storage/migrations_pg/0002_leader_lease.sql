-- The leader's lease (see storage.Lead): one row, renewed by the leader
-- every second; another replica takes it over once expires_at has passed,
-- with the next epoch. Times are the server's, so that replicas' clocks
-- need not agree.
CREATE TABLE leader_lease (
    id         INTEGER     PRIMARY KEY,
    holder     BIGINT      NOT NULL,
    epoch      BIGINT      NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
