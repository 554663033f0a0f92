/* dicomfs core: the persistent index in SQLite.  See store.h. */
#include "catalog/store.h"
#include "catalog/template.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "base/error.h"

/* Bumped whenever the facts or the schema change: an older file is then
 * foreign, and rebuilt. */
#define STORE_SCHEMA "dicomfs-index-5"

struct _DfsStore {
    char *path;
    guint64 stamp; /* changed by every commit */
    sqlite3 *db;
    sqlite3_stmt *insert;
    sqlite3_stmt *remove;
    gint64 seq;    /* the last row's */
    GString *blob; /* the row being put's facts (reused) */
};

/* The schema and the name templates in use (template.h), which say the
 * columns the facts keep and the names an image holds: a store of other
 * templates is rebuilt. */
static char *schema(void)
{
    g_autofree char *sig = dfs_templates_signature();
    return g_strdup_printf("%s%s%s", STORE_SCHEMA, sig[0] ? ";" : "", sig);
}

/* Each set of name templates has its own store, so that mounts with and
 * without templates do not rebuild each other's. */
char *dfs_store_default_path(const char *source)
{
    g_autofree char *sig = dfs_templates_signature();
    g_autofree char *key = sig[0] ? g_strdup_printf("%s\n%s", source, sig) : g_strdup(source);
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
    g_autofree char *name = g_strdup_printf("%s.sqlite", hash);
    return g_build_filename(g_get_user_cache_dir(), "dicomfs", name, NULL);
}

static gboolean exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* Is this the store of this source, readable and whole? */
static gboolean store_is_ours(sqlite3 *db, const char *source)
{
    sqlite3_stmt *st = NULL;
    g_autofree char *want = schema();
    gboolean ok = sqlite3_prepare_v2(db, "SELECT schema, source FROM meta", -1, &st, NULL) ==
                      SQLITE_OK &&
                  sqlite3_step(st) == SQLITE_ROW &&
                  g_strcmp0((const char *)sqlite3_column_text(st, 0), want) == 0 &&
                  g_strcmp0((const char *)sqlite3_column_text(st, 1), source) == 0;
    sqlite3_finalize(st);
    /* Damage further in shows as an error while loading (dfs_store_load):
     * checking every page here would cost a remount a tenth of a second. */
    return ok;
}

static gboolean create_schema(sqlite3 *db, const char *source)
{
    sqlite3_stmt *st = NULL;
    g_autofree char *want = schema();
    gboolean ok = exec(db, "CREATE TABLE meta(schema TEXT, source TEXT, stamp INTEGER DEFAULT 0);"
                           "CREATE TABLE files(seq INTEGER PRIMARY KEY, relpath TEXT,"
                           " size INTEGER, mtime INTEGER, facts BLOB, reason TEXT);") &&
                  sqlite3_prepare_v2(db, "INSERT INTO meta(schema, source) VALUES(?, ?)", -1, &st, NULL) ==
                      SQLITE_OK &&
                  sqlite3_bind_text(st, 1, want, -1, SQLITE_STATIC) == SQLITE_OK &&
                  sqlite3_bind_text(st, 2, source, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
                  sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 2000);
    return db;
}

static gboolean store_fail(GError **error, const char *path, sqlite3 *db)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "index %s: %s", path,
                db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return FALSE;
}

DfsStore *dfs_store_open(const char *path, const char *source, gboolean *rebuilt, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0700);
    *rebuilt = FALSE;
    gboolean existed = g_file_test(path, G_FILE_TEST_EXISTS);
    sqlite3 *db = open_db(path);
    if (db != NULL && existed && !store_is_ours(db, source)) {
        /* Damaged, older or another source's: never trusted, built anew. */
        sqlite3_close(db);
        g_unlink(path);
        *rebuilt = TRUE;
        existed = FALSE;
        db = open_db(path);
    }
    if (db == NULL || (!existed && !create_schema(db, source)))
        return store_fail(error, path, db), NULL;
    DfsStore *s = g_new0(DfsStore, 1);
    s->db = db;
    s->path = g_strdup(path);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT stamp FROM meta", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        s->stamp = (guint64)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    s->blob = g_string_sized_new(1024);
    /* No checkpoint at each commit: a first scan's commit would copy the
     * whole log into the database before the scan could say it is done.
     * dfs_store_close does it, after the scan. */
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;");
    if (sqlite3_prepare_v2(db, "INSERT INTO files VALUES(?, ?, ?, ?, ?, ?)", -1, &s->insert,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "DELETE FROM files WHERE seq = ?", -1, &s->remove, NULL) !=
            SQLITE_OK) {
        store_fail(error, path, NULL);
        dfs_store_close(s);
        return NULL;
    }
    return s;
}

void dfs_store_close(DfsStore *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->insert);
    sqlite3_finalize(s->remove);
    /* The last connection's close folds the log into the database. */
    sqlite3_close(s->db);
    g_string_free(s->blob, TRUE);
    g_free(s->path);
    g_free(s);
}

gboolean dfs_store_load(DfsStore *s, DfsStoreRowFunc fn, gpointer user, guint *n_rows)
{
    sqlite3_stmt *st = NULL;
    guint rows = 0;
    int rc;
    *n_rows = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT seq, relpath, size, mtime, facts, reason FROM files"
                                  " ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
        return FALSE;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *relpath = (const char *)sqlite3_column_text(st, 1);
        if (relpath == NULL)
            continue;
        s->seq = sqlite3_column_int64(st, 0);
        DfsFacts *facts = NULL;
        const char *reason = NULL;
        if (sqlite3_column_type(st, 4) == SQLITE_BLOB)
            facts = dfs_facts_deserialize(sqlite3_column_blob(st, 4),
                                          (gsize)sqlite3_column_bytes(st, 4));
        /* With facts, a reason is a damaged file's note. */
        if (sqlite3_column_type(st, 5) == SQLITE_TEXT &&
            (facts != NULL || sqlite3_column_type(st, 4) != SQLITE_BLOB))
            reason = (const char *)sqlite3_column_text(st, 5);
        fn(s->seq, relpath, (guint64)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
           facts, reason, user);
        rows++;
    }
    sqlite3_finalize(st);
    *n_rows = rows;
    return rc == SQLITE_DONE;
}

gboolean dfs_store_load_paths(DfsStore *s, DfsStorePathFunc fn, gpointer user)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if (sqlite3_prepare_v2(s->db, "SELECT seq, relpath FROM files", -1, &st, NULL) != SQLITE_OK)
        return FALSE;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *relpath = (const char *)sqlite3_column_text(st, 1);
        gint64 row = sqlite3_column_int64(st, 0);
        s->seq = MAX(s->seq, row);
        if (relpath != NULL)
            fn(row, relpath, user);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

void dfs_store_clear(DfsStore *s)
{
    exec(s->db, "DELETE FROM files");
    s->seq = 0;
}

void dfs_store_begin(DfsStore *s)
{
    exec(s->db, "BEGIN");
}

gint64 dfs_store_put(DfsStore *s, const char *relpath, guint64 size, gint64 mtime_ns,
                     const DfsFacts *facts, const char *reason)
{
    sqlite3_stmt *st = s->insert;
    sqlite3_bind_int64(st, 1, ++s->seq);
    sqlite3_bind_text(st, 2, relpath, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)size);
    sqlite3_bind_int64(st, 4, mtime_ns);
    if (facts != NULL) {
        dfs_facts_serialize(facts, s->blob);
        sqlite3_bind_blob(st, 5, s->blob->str, (int)s->blob->len, SQLITE_STATIC);
    } else
        sqlite3_bind_null(st, 5);
    if (reason != NULL)
        sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s->seq;
}

void dfs_store_remove(DfsStore *s, gint64 row)
{
    sqlite3_bind_int64(s->remove, 1, row);
    sqlite3_step(s->remove);
    sqlite3_reset(s->remove);
    sqlite3_clear_bindings(s->remove);
}

const char *dfs_store_path(const DfsStore *s)
{
    return s->path;
}

guint64 dfs_store_stamp(const DfsStore *s)
{
    return s->stamp;
}

void dfs_store_abandon(DfsStore *s)
{
    exec(s->db, "ROLLBACK");
}

gboolean dfs_store_commit(DfsStore *s, GError **error)
{
    guint64 stamp = ((guint64)g_random_int() << 32 | g_random_int()) & G_MAXINT64;
    g_autofree char *sql = g_strdup_printf("UPDATE meta SET stamp = %" G_GUINT64_FORMAT, stamp);
    if (exec(s->db, sql) && exec(s->db, "COMMIT")) {
        s->stamp = stamp;
        return TRUE;
    }
    g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "index: %s", sqlite3_errmsg(s->db));
    exec(s->db, "ROLLBACK");
    return FALSE;
}
