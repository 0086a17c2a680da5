-- Version 3: each terminal's operations journal (shift openings, Z reports, paid in and out,
-- no-sale openings, voids, logins, lockouts), stored exactly once per (terminal, seq) as the
-- canonical bytes the terminal hashed, and the Z reports drawn from it, one per shift, for
-- the cash differences per store, and what returns took of each sale's lines.
CREATE TABLE ops (
    store_id     TEXT NOT NULL,
    terminal_id  TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    op_id        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    shift_no     INTEGER,
    at_ms        INTEGER NOT NULL,
    staff        TEXT NOT NULL,
    approver     TEXT,
    body         TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    received_ms  INTEGER NOT NULL,
    PRIMARY KEY (store_id, terminal_id, seq)
);
-- One Z per shift of a terminal: its number is the shift's, gap-free on the terminal.
CREATE TABLE z_reports (
    store_id        TEXT NOT NULL,
    terminal_id     TEXT NOT NULL,
    z_no            INTEGER NOT NULL,
    op_seq          INTEGER NOT NULL,
    opened_at_ms    INTEGER NOT NULL,
    opened_by       TEXT NOT NULL,
    closed_at_ms    INTEGER NOT NULL,
    utc_offset_s    INTEGER NOT NULL,
    closed_by       TEXT NOT NULL,
    sales_count     INTEGER NOT NULL,
    net             INTEGER NOT NULL,
    expected_cash   INTEGER NOT NULL,
    counted_cash    INTEGER NOT NULL,
    difference      INTEGER NOT NULL,
    member_sales    INTEGER NOT NULL,
    first_receipt   INTEGER NOT NULL,
    last_receipt    INTEGER NOT NULL,
    PRIMARY KEY (store_id, terminal_id, z_no)
);
CREATE INDEX z_reports_by_close ON z_reports (store_id, closed_at_ms);
-- What returns filed at HQ took of each sold line, from any terminal of the store: a later
-- return of the line, from whichever till, is filed only for what is left.
CREATE TABLE returned_lines (
    sale_id     TEXT NOT NULL,
    line_no     INTEGER NOT NULL,
    store_id    TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    op_seq      INTEGER NOT NULL,
    qty_milli   INTEGER NOT NULL,
    PRIMARY KEY (sale_id, line_no, store_id, terminal_id, op_seq)
);
