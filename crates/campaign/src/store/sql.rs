//! SQL that both stores run as it is: one text, so that the backends cannot drift apart.
//! Placeholders are SQLite's `?1`; the PostgreSQL store turns them into `$1`.

/// [`crate::store::Store::completed_paths`] (`?1`: the output folder). A file done before
/// schema 6 has no `out_dir`: the folders its pages were read into keep it.
pub(super) const COMPLETED_PATHS: &str = "SELECT fp.path FROM file_paths fp JOIN files f ON f.hash = fp.hash
     WHERE f.out_dir = ?1
        OR (f.out_dir IS NULL AND EXISTS (SELECT 1 FROM pages p WHERE p.file_hash = f.hash AND p.out_dir = ?1))";

/// [`crate::store::Store::flagged_pages`]: pages of unknown serials or runs, rejected pages,
/// and paths of duplicate files.
pub(super) const FLAGGED_PAGES: &str =
    "SELECT path, page_index, CASE WHEN outcome = 'rejected' THEN reject_reason ELSE match END, run, serial
     FROM pages WHERE match IN ('unknown_serial', 'unknown_run') OR outcome = 'rejected'
     UNION ALL
     SELECT fp.path, 0, 'duplicate_file', NULL, NULL FROM file_paths fp
     WHERE fp.path NOT IN (SELECT path FROM pages p WHERE p.file_hash = fp.hash)
     ORDER BY 1, 2";

/// Rows that make a campaign (settings aside): a copy goes only into a store with none
/// ([`crate::store::Store::restore_begin`]).
pub(super) const CAMPAIGN_ROWS: &str =
    "SELECT (SELECT count(*) FROM persons) + (SELECT count(*) FROM runs) + (SELECT count(*) FROM pages)
       + (SELECT count(*) FROM file_paths) + (SELECT count(*) FROM accounts)";

/// The campaign's own invariants as SQL both backends run: (description, query counting the
/// rows that break it).
pub(super) const INVARIANTS: &[(&str, &str)] = &[
    (
        "files marked done with a page count that differs from their stored pages",
        "SELECT count(*) FROM files f WHERE f.pages <> (SELECT count(*) FROM pages p WHERE p.file_hash = f.hash)",
    ),
    (
        "exported persons whose exported page is missing or another person's",
        "SELECT count(*) FROM exported e LEFT JOIN pages p ON p.id = e.page_id
         WHERE p.id IS NULL OR p.person_id IS NULL OR p.person_id <> e.person_id",
    ),
    ("export batches not numbered 1..n", "SELECT count(*) - coalesce(max(id), 0) FROM exports"),
    (
        "pages matched to a form without a person",
        "SELECT count(*) FROM pages WHERE match = 'form' AND person_id IS NULL",
    ),
    (
        "keyed values of pages that are not stored",
        "SELECT count(*) FROM keyed k LEFT JOIN pages p ON p.id = k.page_id WHERE p.id IS NULL",
    ),
];
