-- Version 3: each terminal's operations journal (shift openings, Z reports, paid in and out,
-- no-sale openings, voids, logins, lockouts), stored exactly once per (terminal, seq) as the
-- canonical bytes the terminal hashed, and the Z reports drawn from it, one per shift, for
-- the cash differences per store, and what returns took of each sale's lines.
CREATE TABLE ops (
    store_id     TEXT NOT NULL,
    terminal_id  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    op_id        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    shift_no     BIGINT,
    at_ms        BIGINT NOT NULL,
    staff        TEXT NOT NULL,
    approver     TEXT,
    body         TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    received_ms  BIGINT NOT NULL,
    PRIMARY KEY (store_id, terminal_id, seq)
);
-- One Z per shift of a terminal: its number is the shift's, gap-free on the terminal.
CREATE TABLE z_reports (
    store_id        TEXT NOT NULL,
    terminal_id     TEXT NOT NULL,
    z_no            BIGINT NOT NULL,
    op_seq          BIGINT NOT NULL,
    opened_at_ms    BIGINT NOT NULL,
    opened_by       TEXT NOT NULL,
    closed_at_ms    BIGINT NOT NULL,
    utc_offset_s    BIGINT NOT NULL,
    closed_by       TEXT NOT NULL,
    sales_count     BIGINT NOT NULL,
    net             BIGINT NOT NULL,
    expected_cash   BIGINT NOT NULL,
    counted_cash    BIGINT NOT NULL,
    difference      BIGINT NOT NULL,
    member_sales    BIGINT NOT NULL,
    first_receipt   BIGINT NOT NULL,
    last_receipt    BIGINT NOT NULL,
    PRIMARY KEY (store_id, terminal_id, z_no)
);
CREATE INDEX z_reports_by_close ON z_reports (store_id, closed_at_ms);
-- What returns filed at HQ took of each sold line, from any terminal of the store: a later
-- return of the line, from whichever till, is filed only for what is left.
CREATE TABLE returned_lines (
    sale_id     TEXT NOT NULL,
    line_no     BIGINT NOT NULL,
    store_id    TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    op_seq      BIGINT NOT NULL,
    qty_milli   BIGINT NOT NULL,
    PRIMARY KEY (sale_id, line_no, store_id, terminal_id, op_seq)
);
