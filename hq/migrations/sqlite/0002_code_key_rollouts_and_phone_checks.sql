-- Version 2: member-code key rollouts, and HQ's one check of each stored phone hash for
-- version 1. IF NOT EXISTS: builds between the first release and versioned migrations made
-- these tables already.
-- When each member-code key starts signing (Unix ms). A rotated key is published to tills at
-- once but signs only after its rollout, so a till that has not synced since still knows the
-- key that signs. A key without a row (made before rollouts) signs from its creation.
CREATE TABLE IF NOT EXISTS code_key_rollouts (
    kid           INTEGER PRIMARY KEY,
    signs_from_ms INTEGER NOT NULL
);
-- Members whose stored phone hash HQ has checked for version 1 (an HMAC under a member key):
-- such a member moved to the version-2 hash, or merged into the member who had it already.
-- A check costs 10,000 HMACs per version-1 key, so each member is checked once.
CREATE TABLE IF NOT EXISTS phone_checks (
    member_id  TEXT PRIMARY KEY,
    outcome    TEXT NOT NULL,
    checked_ms INTEGER NOT NULL
);
