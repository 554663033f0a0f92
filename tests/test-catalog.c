/* Unit tests of the catalog's index image (catalog/image.h): a mapped image
 * is the index it was written from, node for node; an image written for the
 * next mount numbers nodes as a fresh load of the store does (what keeps the
 * kernel's inode numbers right when a remount's check finds a change); the
 * check finds every file of the version it holds and no other; a damaged or
 * stale image is refused or read safely.  The oracle for numbering is a
 * second builder that files the same files in the store's order, as
 * dfs_scan does when it loads the store. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "catalog/image.h"
#include "catalog/index.h"
#include "catalog/index-private.h"

typedef struct {
    const char *relpath, *patient, *study, *series, *number, *sop;
    gint64 size, mtime;
} File;

/* Facts as the store keeps them (index.c's serialization: a flag, then per
 * level a count and each field as "<length>:<bytes>"). */
static DfsFacts *facts_of(const File *f)
{
    const char *fields[] = {
        /* patient: name, ID, issuer, birth date, sex */
        f->patient, f->patient, "", "19700101", "O", NULL,
        /* study: date, description, accession, ID, UID */
        "20200102", f->study, "", "1", f->study, NULL,
        /* series: number, modality, description, UID */
        "1", "MR", f->series, f->series, NULL,
        /* instance: number, SOP instance UID, class, syntax */
        f->number, f->sop, "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.1.2.1", NULL,
    };
    GString *s = g_string_new("-");
    for (guint k = 0, level = 0; level < 4; level++) {
        guint start = k;
        while (fields[k] != NULL)
            k++;
        g_string_append_printf(s, "%u;", k - start);
        for (guint j = start; j < k; j++)
            g_string_append_printf(s, "%zu:%s", strlen(fields[j]), fields[j]);
        k++;
    }
    DfsFacts *facts = dfs_facts_deserialize((const guint8 *)s->str, s->len);
    g_assert_nonnull(facts);
    g_string_free(s, TRUE);
    return facts;
}

static void add(DfsIndexBuilder *b, const File *f)
{
    struct stat st = {.st_size = (off_t)f->size};
    st.st_mtim.tv_sec = f->mtime;
    dfs_index_builder_add(b, f->relpath, &st, facts_of(f));
}

static const File files[] = {
    {"a/1.dcm", "Doe", "1.1", "1.1.1", "1", "9.1", 100, 1000},
    {"a/2.dcm", "Doe", "1.1", "1.1.1", "2", "9.2", 101, 1001},
    {"a/3.dcm", "Doe", "1.1", "1.1.2", "1", "9.3", 102, 1002},
    {"b/1.dcm", "Roe", "2.1", "2.1.1", "1", "9.4", 103, 1003},
    {"b/2.dcm", "Roe", "2.1", "2.1.1", "10", "9.5", 104, 1004},
    {"b/3.dcm", "Roe", "2.2", "2.2.1", "1", "9.6", 105, 1005},
    {"c/1.dcm", "Poe", "3.1", "3.1.1", "1", "9.7", 106, 1006},
    {"c/2.dcm", "Poe", "3.1", "3.1.1", "1", "9.7", 107, 1007}, /* a duplicate UID */
};
/* Files a rescan adds. */
static const File later[] = {
    {"d/1.dcm", "Doe", "1.1", "1.1.1", "3", "9.8", 108, 1008},
    {"d/2.dcm", "Zoe", "4.1", "4.1.1", "1", "9.9", 109, 1009},
};

/* A file read and skipped (its version kept), and an entry the walk skips. */
static void add_skips(DfsIndexBuilder *b)
{
    struct stat junk = {.st_size = 5};
    dfs_index_builder_skip(b, "junk.txt", &junk, "not DICOM: no preamble");
    dfs_index_builder_skip(b, "fifo", NULL, "not a regular file (FIFO)");
}

/* The scan's builder after a first scan and a rescan: files[] filed and
 * skips noted, then a.3, b.1, b.3 and c.1 taken out (b.3's study and
 * series go with it) and later[] filed.  *order: the live files in the
 * store's row order. */
static DfsIndexBuilder *rescanned(GPtrArray *order)
{
    DfsIndexBuilder *b = dfs_index_builder_new();
    for (guint k = 0; k < G_N_ELEMENTS(files); k++)
        add(b, &files[k]);
    add_skips(b);
    dfs_index_unref(dfs_index_builder_snapshot(b));
    const char *gone[] = {"a/3.dcm", "b/1.dcm", "b/3.dcm", "c/1.dcm"};
    for (guint k = 0; k < G_N_ELEMENTS(gone); k++)
        dfs_index_builder_remove(b, gone[k]);
    for (guint k = 0; k < G_N_ELEMENTS(later); k++)
        add(b, &later[k]);
    for (guint k = 0; k < G_N_ELEMENTS(files); k++) {
        gboolean out = FALSE;
        for (guint g = 0; g < G_N_ELEMENTS(gone); g++)
            out = out || strcmp(files[k].relpath, gone[g]) == 0;
        if (!out)
            g_ptr_array_add(order, (gpointer)&files[k]);
    }
    for (guint k = 0; k < G_N_ELEMENTS(later); k++)
        g_ptr_array_add(order, (gpointer)&later[k]);
    return b;
}

static char *tmp_image(void)
{
    g_autofree char *dir = g_dir_make_tmp("dicomfs-test-catalog.XXXXXX", NULL);
    g_assert_nonnull(dir);
    return g_build_filename(dir, "index.image", NULL);
}

static void remove_image(const char *path)
{
    g_unlink(path);
    g_autofree char *dir = g_path_get_dirname(path);
    g_rmdir(dir);
}

/* The rescanned snapshot written to a fresh image with stamp (compact or
 * numbered as the snapshot), and what it was made from. */
typedef struct {
    GPtrArray *order; /* the live files in the store's row order */
    DfsIndexBuilder *b;
    DfsIndex *idx;
    char *path;
} Written;

static void written(Written *w, guint64 stamp, gboolean compact)
{
    w->order = g_ptr_array_new();
    w->b = rescanned(w->order);
    w->idx = dfs_index_builder_snapshot(w->b);
    w->path = tmp_image();
    g_autoptr(GError) error = NULL;
    g_assert_true(dfs_image_write(w->idx, w->path, stamp, compact, &error));
    g_assert_no_error(error);
}

static void written_clear(Written *w)
{
    remove_image(w->path);
    g_free(w->path);
    dfs_index_unref(w->idx);
    dfs_index_builder_free(w->b);
    g_ptr_array_unref(w->order);
}

/* a and b show the same tree under the same numbers (live nodes of a, and
 * with `dead` every node of a). */
static void assert_same(const DfsIndex *a, const DfsIndex *b, gboolean dead)
{
    g_assert_cmpuint(dfs_index_n_instances(a), ==, dfs_index_n_instances(b));
    g_assert_cmpuint(dfs_index_n_skipped(a), ==, dfs_index_n_skipped(b));
    guint live = 0;
    for (guint k = 0; k < dfs_index_n_nodes(a); k++) {
        if (!dead && !dfs_index_is_live(a, k))
            continue;
        live++;
        g_assert_cmpuint(k, <, dfs_index_n_nodes(b));
        g_assert_cmpint(dfs_index_is_live(a, k), ==, dfs_index_is_live(b, k));
        g_assert_cmpint(dfs_index_level(a, k), ==, dfs_index_level(b, k));
        if (!dfs_index_is_live(a, k))
            continue;
        g_assert_cmpstr(dfs_index_name(a, k), ==, dfs_index_name(b, k));
        if (k != DFS_INDEX_ROOT)
            g_assert_cmpuint(dfs_index_parent(a, k), ==, dfs_index_parent(b, k));
        g_assert_cmpuint(dfs_index_first_instance(a, k), ==, dfs_index_first_instance(b, k));
        guint na, nb;
        const guint32 *ca = dfs_index_children(a, k, &na), *cb = dfs_index_children(b, k, &nb);
        g_assert_cmpuint(na, ==, nb);
        for (guint c = 0; c < na; c++) {
            g_assert_cmpuint(ca[c], ==, cb[c]);
            g_assert_cmpuint(dfs_index_lookup(b, k, dfs_index_name(a, ca[c])), ==, ca[c]);
        }
        if (dfs_index_level(a, k) == DFS_LEVEL_INSTANCE) {
            g_assert_cmpstr(dfs_index_relpath(a, k), ==, dfs_index_relpath(b, k));
            g_assert_cmpuint(dfs_index_size(a, k), ==, dfs_index_size(b, k));
            g_assert_cmpint(dfs_index_mtime(a, k)->tv_sec, ==, dfs_index_mtime(b, k)->tv_sec);
        }
    }
    if (!dead) {
        guint live_b = 0;
        for (guint k = 0; k < dfs_index_n_nodes(b); k++)
            live_b += dfs_index_is_live(b, k);
        g_assert_cmpuint(live, ==, live_b);
    }
}

/* An image for this mount: the snapshot itself, dead nodes and all. */
static void test_same_mount(void)
{
    Written w;
    written(&w, 42, FALSE);
    g_assert_true(dfs_image_renumbers(w.idx));
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsIndex) mapped = dfs_image_map(w.path, 42, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(dfs_index_n_nodes(mapped), ==, dfs_index_n_nodes(w.idx));
    assert_same(w.idx, mapped, TRUE);
    written_clear(&w);
}

/* An image for the next mount numbers as a builder loading the store. */
static void test_next_mount(void)
{
    Written w;
    written(&w, 43, TRUE);
    g_autoptr(DfsIndex) mapped = dfs_image_map(w.path, 43, NULL);
    g_assert_nonnull(mapped);
    /* The store's rows in order, as dfs_scan files them. */
    g_autoptr(DfsIndexBuilder) fresh = dfs_index_builder_new();
    for (guint k = 0; k < w.order->len; k++)
        add(fresh, w.order->pdata[k]);
    add_skips(fresh);
    g_autoptr(DfsIndex) loaded = dfs_index_builder_snapshot(fresh);
    g_assert_false(dfs_image_renumbers(loaded));
    g_assert_cmpuint(dfs_index_n_nodes(mapped), ==, dfs_index_n_nodes(loaded));
    assert_same(loaded, mapped, TRUE);
    /* And the same tree as the rescanned snapshot, by name. */
    g_assert_cmpuint(dfs_index_n_instances(mapped), ==, dfs_index_n_instances(w.idx));
    g_clear_pointer(&mapped, dfs_index_unref);
    written_clear(&w);
}

/* The check: every file of the version the image holds, and no other. */
static void test_check(void)
{
    Written w;
    written(&w, 44, TRUE);
    g_autoptr(DfsIndex) mapped = dfs_image_map(w.path, 44, NULL);
    g_assert_nonnull(mapped);
    for (guint k = 0; k < w.order->len; k++) {
        const File *f = w.order->pdata[k];
        gint64 ns = f->mtime * 1000000000;
        g_assert_true(dfs_image_has_file(mapped, f->relpath, (guint64)f->size, ns));
        g_assert_false(dfs_image_has_file(mapped, f->relpath, (guint64)f->size, ns + 1));
        g_assert_false(dfs_image_has_file(mapped, f->relpath, (guint64)f->size + 1, ns));
    }
    g_assert_false(dfs_image_has_file(mapped, "a/3.dcm", 102, 1002 * G_GINT64_CONSTANT(1000000000)));
    g_assert_true(dfs_image_has_file(mapped, "junk.txt", 5, 0));
    g_assert_false(dfs_image_has_file(mapped, "junk.txt", 6, 0));
    g_assert_true(dfs_image_has_skip(mapped, "fifo", "not a regular file (FIFO)"));
    g_assert_false(dfs_image_has_skip(mapped, "fifo", "not a regular file (socket)"));
    g_assert_false(dfs_image_has_skip(mapped, "junk.txt", "not DICOM: no preamble"));
    /* Live instances and the two skipped entries; the duplicate-UID note
     * is about an instance, not an entry of the source. */
    g_assert_cmpuint(dfs_image_n_entries(mapped), ==, w.order->len + 2);
    g_clear_pointer(&mapped, dfs_index_unref);
    written_clear(&w);
}

/* Another stamp, a cut file or a damaged header: refused.  Garbage in the
 * records: every accessor still answers within the index. */
static void test_damaged(void)
{
    Written w;
    written(&w, 45, TRUE);
    const char *path = w.path;
    g_autoptr(GError) error = NULL;
    g_assert_null(dfs_image_map(path, 46, &error));
    g_assert_nonnull(error);
    g_autofree char *bytes = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    g_assert_true(g_file_set_contents(path, bytes, (gssize)len - 1, NULL));
    g_assert_null(dfs_image_map(path, 45, NULL));
    /* Every byte after the header's first 8 flipped, in turn over a
     * pattern: the header is refused or the index reads safely. */
    for (gsize at = 8; at < len; at += 37) {
        g_autofree char *bad = g_memdup2(bytes, len);
        bad[at] ^= 0x5a;
        bad[(at * 7) % len] = (char)0xff;
        g_assert_true(g_file_set_contents(path, bad, (gssize)len, NULL));
        g_autoptr(DfsIndex) m = dfs_image_map(path, 45, NULL);
        if (m == NULL)
            continue;
        for (guint k = 0; k < dfs_index_n_nodes(m) + 2; k++) {
            guint n;
            const guint32 *ch = dfs_index_children(m, k < dfs_index_n_nodes(m) ? k : 0, &n);
            for (guint c = 0; c < n; c++)
                (void)strlen(dfs_index_name(m, ch[c]));
            guint id = k < dfs_index_n_nodes(m) ? k : 0;
            (void)strlen(dfs_index_relpath(m, id));
            (void)dfs_index_parent(m, id);
            (void)dfs_index_first_instance(m, id);
            (void)dfs_index_level(m, id);
            (void)dfs_index_lookup(m, id, "x");
        }
        (void)dfs_image_has_file(m, "a/1.dcm", 100, 0);
        (void)dfs_image_has_skip(m, "fifo", "x");
    }
    written_clear(&w);
}

/* Names kept while mounted (issue 14): a series whose folder is renamed
 * (every file taken out and filed again under another path, in one update)
 * is the same folder, and its instances keep their names, even the unpadded
 * 1..9 beside a 10 that a fresh naming would pad to 01..10. */
static void test_folder_renamed(void)
{
    static const char *const numbers[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"};
    g_autoptr(DfsIndexBuilder) b = dfs_index_builder_new();
    File f[10];
    char paths[10][32], moved[10][32], sops[10][16];
    for (guint k = 0; k < 10; k++) {
        g_snprintf(paths[k], sizeof paths[k], "old/%u.dcm", k + 1);
        g_snprintf(moved[k], sizeof moved[k], "new/%u.dcm", k + 1);
        g_snprintf(sops[k], sizeof sops[k], "9.%u", k + 1);
        f[k] = (File){paths[k], "Doe", "1.1", "1.1.1", numbers[k], sops[k], 100 + k, 1000 + k};
    }
    for (guint k = 0; k < 9; k++)
        add(b, &f[k]);
    dfs_index_unref(dfs_index_builder_snapshot(b));
    dfs_index_builder_keep_names(b);
    add(b, &f[9]);
    g_autoptr(DfsIndex) before = dfs_index_builder_snapshot(b);
    dfs_index_builder_remove_under(b, "old");
    for (guint k = 0; k < 10; k++) {
        f[k].relpath = moved[k];
        add(b, &f[k]);
    }
    g_autoptr(GArray) changed = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(guint32));
    dfs_index_builder_delta(b, changed, gone);
    g_autoptr(DfsIndex) after = dfs_index_builder_snapshot(b);
    /* The same patient, study and series folders, under the same names. */
    guint n;
    const guint32 *p0 = dfs_index_children(before, DFS_INDEX_ROOT, &n);
    g_assert_cmpuint(n, ==, 1);
    const guint32 *p1 = dfs_index_children(after, DFS_INDEX_ROOT, &n);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(p0[0], ==, p1[0]);
    guint series0 = dfs_index_children(before, dfs_index_children(before, p0[0], &n)[0], &n)[0];
    guint series1 = dfs_index_children(after, dfs_index_children(after, p1[0], &n)[0], &n)[0];
    g_assert_cmpuint(series0, ==, series1);
    /* Each SOP Instance UID under the name it had: 1..9 and 10. */
    const guint32 *ch = dfs_index_children(after, series1, &n);
    g_assert_cmpuint(n, ==, 10);
    for (guint k = 0; k < n; k++) {
        const char *sop = dfs_index_field(after, ch[k], IN_UID);
        guint which = (guint)g_ascii_strtoull(sop + 2, NULL, 10);
        g_assert_cmpstr(dfs_index_name(after, ch[k]), ==, numbers[which - 1]);
        g_assert_true(g_str_has_prefix(dfs_index_relpath(after, ch[k]), "new/"));
    }
    for (guint k = 0; k < gone->len; k++) /* only the old instances went */
        g_assert_cmpint(dfs_index_level(before, g_array_index(gone, guint32, k)), ==,
                        DFS_LEVEL_INSTANCE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/catalog/image/same-mount", test_same_mount);
    g_test_add_func("/catalog/image/next-mount-numbering", test_next_mount);
    g_test_add_func("/catalog/image/check", test_check);
    g_test_add_func("/catalog/image/damaged", test_damaged);
    g_test_add_func("/catalog/names/folder-renamed", test_folder_renamed);
    return g_test_run();
}
