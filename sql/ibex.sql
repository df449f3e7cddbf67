-- ibex schema for MySQL / MariaDB:   mysql < sql/ibex.sql
-- Creates the database `ibex` if missing; running it again changes nothing.
-- The embedded H2 store runs the same statements (all but the database lines) on first start.
-- Rules that keep one file for both: no column-level charsets, index names unique per schema,
-- no REPLACE (H2 needs a primary key for it), one statement per ';'.
-- Host and server names compare exactly (utf8mb4_bin): 'Web1' and 'web1' are two hosts.

CREATE DATABASE IF NOT EXISTS ibex DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE ibex;

-- The schema version the server checks at start; a server refuses any other.
CREATE TABLE IF NOT EXISTS ibex_schema (
  version int NOT NULL,
  PRIMARY KEY (version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
INSERT IGNORE INTO ibex_schema (version) VALUES (1);

-- The task definition, immutable after creation. created: epoch milliseconds.
CREATE TABLE IF NOT EXISTS task_meta (
  id bigint unsigned NOT NULL AUTO_INCREMENT,
  title varchar(255) NOT NULL DEFAULT '',
  account varchar(64) NOT NULL,
  batch int unsigned NOT NULL DEFAULT 0,
  tolerance int unsigned NOT NULL DEFAULT 0,
  timeout int unsigned NOT NULL DEFAULT 0,
  pause text NOT NULL,
  script mediumtext NOT NULL,
  args text NOT NULL,
  stdin mediumtext NOT NULL,
  creator varchar(64) NOT NULL DEFAULT '',
  created bigint NOT NULL,
  PRIMARY KEY (id),
  KEY idx_task_meta_creator (creator),
  KEY idx_task_meta_created (created)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- The task-level action. A row means the task is unfinished; it is deleted when the task is done.
CREATE TABLE IF NOT EXISTS task_action (
  id bigint unsigned NOT NULL,
  action varchar(32) NOT NULL,
  clock bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Which server schedules an unfinished task; '' means nobody yet (any server may take it).
CREATE TABLE IF NOT EXISTS task_scheduler (
  id bigint unsigned NOT NULL,
  scheduler varchar(128) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  KEY idx_task_scheduler_scheduler (scheduler)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Server liveness: each server writes its clock (epoch ms) every second.
CREATE TABLE IF NOT EXISTS task_scheduler_health (
  scheduler varchar(128) NOT NULL,
  clock bigint NOT NULL,
  PRIMARY KEY (scheduler),
  KEY idx_task_scheduler_health_clock (clock)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per (task, host): status and output. ii keeps the creation order.
-- clock identifies the host's current run (0 before its first dispatch); a result counts only
-- for the clock it was started with. Running and killing rows are the dispatch queue.
CREATE TABLE IF NOT EXISTS task_host (
  ii bigint unsigned NOT NULL AUTO_INCREMENT,
  id bigint unsigned NOT NULL,
  host varchar(128) NOT NULL,
  status varchar(32) NOT NULL,
  clock bigint NOT NULL DEFAULT 0,
  stdout mediumtext,
  stderr mediumtext,
  PRIMARY KEY (ii),
  UNIQUE KEY uk_task_host_id_host (id, host),
  KEY idx_task_host_id_status (id, status),
  KEY idx_task_host_host_status (host, status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Where each host's agent is connected: written when it connects and disconnects (never per
-- heartbeat). A host counts as connected while its server's health row is fresh.
CREATE TABLE IF NOT EXISTS agent_host (
  host varchar(128) NOT NULL,
  server varchar(128) NOT NULL DEFAULT '',
  agent_id varchar(64) NOT NULL DEFAULT '',
  remote varchar(128) NOT NULL DEFAULT '',
  connected tinyint NOT NULL DEFAULT 0,
  seen bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (host),
  KEY idx_agent_host_server (server)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Assignment changes (a host started, killed or dropped a run), in commit order by seq. Every
-- server reads the new rows a few times a second and pushes them to the agents connected to it,
-- so a task created or acted on through any server reaches its agents within a second.
-- server is the writer, which pushed the change to its own agents already. Rows older than an
-- hour are pruned.
CREATE TABLE IF NOT EXISTS dispatch_log (
  seq bigint unsigned NOT NULL AUTO_INCREMENT,
  host varchar(128) NOT NULL,
  id bigint unsigned NOT NULL,
  server varchar(128) NOT NULL DEFAULT '',
  created bigint NOT NULL,
  PRIMARY KEY (seq),
  KEY idx_dispatch_log_created (created)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Host pinning: the public key of the first authenticated agent for each host name. Another key
-- claiming the name is refused until an operator releases it (ibex agents forget HOST).
CREATE TABLE IF NOT EXISTS agent_key (
  host varchar(128) NOT NULL,
  public_key varchar(255) NOT NULL,
  agent_id varchar(64) NOT NULL DEFAULT '',
  remote varchar(128) NOT NULL DEFAULT '',
  pinned bigint NOT NULL,
  PRIMARY KEY (host)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Who did what: every task creation and every action, with the script's SHA-256. actor: the
-- basic-auth user ("" when the API has no accounts).
-- at: epoch milliseconds; hosts: comma list (cut at 4000 characters, with the count in detail).
CREATE TABLE IF NOT EXISTS audit_log (
  seq bigint unsigned NOT NULL AUTO_INCREMENT,
  at bigint NOT NULL,
  actor varchar(64) NOT NULL DEFAULT '',
  remote varchar(128) NOT NULL DEFAULT '',
  action varchar(32) NOT NULL,
  task_id bigint unsigned NOT NULL DEFAULT 0,
  hosts text NOT NULL,
  script_sha256 varchar(64) NOT NULL DEFAULT '',
  detail varchar(1024) NOT NULL DEFAULT '',
  PRIMARY KEY (seq),
  KEY idx_audit_log_task (task_id),
  KEY idx_audit_log_at (at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
