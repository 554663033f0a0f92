/* dicomfs core: the index as a mapped file.  See image.h.
 *
 * The file: a header, then the strings (NUL-terminated, offsets from the
 * start of the block; strings that repeat are written once), then the
 * nodes, the children, the fields, the skips and the live instances sorted
 * by source path, each section 8-byte aligned.  Native byte order: it is a
 * cache of this machine's, and the header says which order it was. */
#include "catalog/image.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "catalog/index-private.h"
#include "catalog/tables.h"

#define IMAGE_MAGIC "DFSIMG\r\n"
#define IMAGE_VERSION 2u
#define IMAGE_ORDER 0x01020304u
#define NONE G_MAXUINT32

typedef struct {
    char magic[8];
    guint32 version, order;
    guint64 stamp;
    guint32 n_nodes, n_kids, n_fields, n_skips, n_instances, n_skipped;
    guint64 strings, n_strings, nodes, kids, fields, skips, by_relpath, tables, n_tables,
        file_size;
} Header;

/* --- writing -------------------------------------------------------------- */

typedef struct {
    FILE *f;
    guint64 pos;
    guint64 strings; /* where the string block starts */
    gboolean too_big;
    GHashTable *shared; /* text (in shared_text) -> its offset */
    GStringChunk *shared_text;
} Out;

static void out_bytes(Out *o, const void *p, gsize n)
{
    if (n > 0 && fwrite(p, 1, n, o->f) != n)
        o->too_big = o->too_big || ferror(o->f) == 0; /* ferror is checked at the end */
    o->pos += n;
}

static guint64 out_align(Out *o)
{
    static const guint8 zeros[8];
    out_bytes(o, zeros, (8 - o->pos % 8) % 8);
    return o->pos;
}

/* s into the string block; its offset there. */
static guint32 out_string(Out *o, const char *s)
{
    guint64 at = o->pos - o->strings;
    gsize len = strlen(s) + 1;
    if (at + len > G_MAXUINT32) {
        o->too_big = TRUE;
        return 0;
    }
    out_bytes(o, s, len);
    return (guint32)at;
}

/* The same for a string that repeats: written once. */
static guint32 out_shared(Out *o, const char *s)
{
    gpointer at;
    if (g_hash_table_lookup_extended(o->shared, s, NULL, &at))
        return GPOINTER_TO_UINT(at);
    guint32 offset = out_string(o, s);
    g_hash_table_insert(o->shared, g_string_chunk_insert_const(o->shared_text, s),
                        GUINT_TO_POINTER(offset));
    return offset;
}

gboolean dfs_image_renumbers(const DfsIndex *idx)
{
    for (guint k = 0, n = dfs_index_n_nodes(idx); k < n; k++)
        if (!dfs_index_is_live(idx, k))
            return TRUE;
    return FALSE;
}

/* new_id[old]: the identity, or (compact) the order in which a builder
 * filing the live instances in order makes their folders and them. */
static guint32 *numbering(const DfsIndex *idx, gboolean compact, guint *n_new)
{
    guint n = dfs_index_n_nodes(idx), next = 0;
    guint32 *map = g_new(guint32, n);
    for (guint k = 0; k < n; k++)
        map[k] = compact ? NONE : k;
    if (!compact) {
        *n_new = n;
        return map;
    }
    map[DFS_INDEX_ROOT] = next++;
    for (guint k = 1; k < n; k++) {
        if (!dfs_index_is_live(idx, k) || dfs_index_level(idx, k) != DFS_LEVEL_INSTANCE)
            continue;
        guint chain[DFS_LEVEL_INSTANCE], m = 0;
        for (guint a = dfs_index_parent(idx, k); a != DFS_INDEX_ROOT && m < G_N_ELEMENTS(chain);
             a = dfs_index_parent(idx, a))
            chain[m++] = a;
        while (m > 0) {
            guint a = chain[--m];
            if (map[a] == NONE)
                map[a] = next++;
        }
        map[k] = next++;
    }
    *n_new = next;
    return map;
}

static gboolean is_unique_column(DfsLevel level, guint c)
{
    return g_str_has_suffix(dfs_index_column(level, c), "InstanceUID");
}

/* Every node's strings; their offsets per new number (fields into fields). */
typedef struct {
    guint32 *name, *key, *relpath, *first_field;
    GArray *fields;
} Strings;

static void write_strings(Out *o, const DfsIndex *idx, const guint32 *old_id, guint n_new,
                          Strings *s)
{
    s->name = g_new0(guint32, n_new);
    s->key = g_new0(guint32, n_new);
    s->relpath = g_new0(guint32, n_new);
    s->first_field = g_new0(guint32, n_new);
    s->fields = g_array_new(FALSE, FALSE, sizeof(guint32));
    out_string(o, ""); /* offset 0 */
    /* Names first and together: a walk touches them and little else. */
    for (guint j = 0; j < n_new; j++) {
        gboolean instance = dfs_index_level(idx, old_id[j]) == DFS_LEVEL_INSTANCE;
        const char *name = dfs_index_name(idx, old_id[j]);
        s->name[j] = instance ? out_shared(o, name) : out_string(o, name);
    }
    /* Then each kind of string apart: a walk that opens files touches the
     * source paths, not the UIDs. */
    for (guint j = 0; j < n_new; j++)
        if (dfs_index_level(idx, old_id[j]) == DFS_LEVEL_INSTANCE)
            s->relpath[j] = out_string(o, dfs_index_relpath(idx, old_id[j]));
    for (guint j = 0; j < n_new; j++) {
        DfsLevel level = dfs_index_level(idx, old_id[j]);
        if (level != DFS_LEVEL_INSTANCE && level != DFS_LEVEL_ROOT)
            s->key[j] = out_string(o, dfs_index_key(idx, old_id[j]));
    }
    for (guint j = 0; j < n_new; j++) {
        DfsLevel level = dfs_index_level(idx, old_id[j]);
        s->first_field[j] = s->fields->len;
        for (guint c = 0; c < dfs_index_n_columns(level); c++) {
            const char *v = dfs_index_field(idx, old_id[j], c);
            guint32 at = is_unique_column(level, c) ? out_string(o, v) : out_shared(o, v);
            g_array_append_val(s->fields, at);
        }
    }
}

static void strings_free(Strings *s)
{
    g_free(s->name);
    g_free(s->key);
    g_free(s->relpath);
    g_free(s->first_field);
    g_array_unref(s->fields);
}

static void write_nodes(Out *o, const DfsIndex *idx, const guint32 *map, const guint32 *old_id,
                        guint n_new, const Strings *s, guint32 *n_kids)
{
    guint32 kids = 0;
    for (guint j = 0; j < n_new; j++) {
        guint id = old_id[j], n;
        const guint32 *ch = dfs_index_children(idx, id, &n);
        DfsImageNode r = {0};
        if (dfs_index_level(idx, id) == DFS_LEVEL_INSTANCE) {
            const struct timespec *t = dfs_index_mtime(idx, id);
            r.mtime_sec = t->tv_sec;
            r.mtime_nsec = t->tv_nsec;
            r.size = dfs_index_size(idx, id);
        }
        r.parent = j == 0 ? 0 : map[dfs_index_parent(idx, id)];
        r.name = s->name[j];
        r.key = s->key[j];
        r.relpath = s->relpath[j];
        r.fields = s->first_field[j];
        r.first_child = kids;
        for (guint c = 0; c < n; c++)
            r.n_children += map[ch[c]] != NONE;
        kids += r.n_children;
        guint first = dfs_index_first_instance(idx, id);
        r.first_instance = first == DFS_NO_INDEX ? NONE : map[first];
        r.level = (guint8)dfs_index_level(idx, id);
        r.live = (guint8)dfs_index_is_live(idx, id);
        out_bytes(o, &r, sizeof r);
    }
    *n_kids = kids;
}

static void write_kids(Out *o, const DfsIndex *idx, const guint32 *map, const guint32 *old_id,
                       guint n_new)
{
    for (guint j = 0; j < n_new; j++) {
        guint n;
        const guint32 *ch = dfs_index_children(idx, old_id[j], &n);
        for (guint c = 0; c < n; c++)
            if (map[ch[c]] != NONE)
                out_bytes(o, &map[ch[c]], sizeof(guint32));
    }
}

static void write_skips(Out *o, const DfsIndex *idx, guint32 *at)
{
    for (guint k = 0; k < dfs_index_n_skips(idx); k++) {
        DfsIndexSkip s;
        dfs_index_skip(idx, k, &s);
        DfsImageSkip r = {.size = s.size, .mtime_ns = s.mtime_ns, .kind = (guint8)s.kind};
        r.relpath = at[2 * k];
        r.reason = at[2 * k + 1];
        out_bytes(o, &r, sizeof r);
    }
}

static int by_relpath(gconstpointer a, gconstpointer b, gpointer idx)
{
    return strcmp(dfs_index_relpath(idx, *(const guint32 *)a),
                  dfs_index_relpath(idx, *(const guint32 *)b));
}

/* The live instances' new numbers, in source path order. */
static void write_by_relpath(Out *o, const DfsIndex *idx, const guint32 *map)
{
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (guint k = 0, n = dfs_index_n_nodes(idx); k < n; k++)
        if (dfs_index_is_live(idx, k) && dfs_index_level(idx, k) == DFS_LEVEL_INSTANCE)
            g_array_append_val(ids, k);
    g_array_sort_with_data(ids, by_relpath, (gpointer)idx);
    for (guint k = 0; k < ids->len; k++)
        out_bytes(o, &map[g_array_index(ids, guint32, k)], sizeof(guint32));
    g_array_unref(ids);
}

/* Everything after the header; h filled in. */
static void write_body(Out *o, const DfsIndex *idx, gboolean compact, Header *h)
{
    guint n_new;
    g_autofree guint32 *map = numbering(idx, compact, &n_new);
    g_autofree guint32 *old_id = g_new(guint32, n_new);
    for (guint k = 0, n = dfs_index_n_nodes(idx); k < n; k++)
        if (map[k] != NONE)
            old_id[map[k]] = k;
    Strings s;
    h->strings = o->strings = out_align(o);
    write_strings(o, idx, old_id, n_new, &s);
    guint n_skips = dfs_index_n_skips(idx);
    g_autofree guint32 *skip_at = g_new(guint32, 2 * (gsize)n_skips + 1);
    for (guint k = 0; k < n_skips; k++) {
        DfsIndexSkip sk;
        dfs_index_skip(idx, k, &sk);
        skip_at[2 * k] = out_string(o, sk.relpath);
        skip_at[2 * k + 1] = out_shared(o, sk.reason);
    }
    out_string(o, ""); /* the block ends with a NUL */
    h->n_strings = o->pos - o->strings;
    h->nodes = out_align(o);
    h->n_nodes = n_new;
    write_nodes(o, idx, map, old_id, n_new, &s, &h->n_kids);
    h->kids = out_align(o);
    write_kids(o, idx, map, old_id, n_new);
    h->fields = out_align(o);
    h->n_fields = s.fields->len;
    out_bytes(o, s.fields->data, s.fields->len * sizeof(guint32));
    strings_free(&s);
    h->skips = out_align(o);
    h->n_skips = n_skips;
    write_skips(o, idx, skip_at);
    h->by_relpath = out_align(o);
    h->n_instances = dfs_index_n_instances(idx);
    h->n_skipped = dfs_index_n_skipped(idx);
    write_by_relpath(o, idx, map);
    h->tables = out_align(o);
    GByteArray *tables = g_byte_array_new();
    dfs_table_export(idx, map, tables);
    h->n_tables = tables->len;
    out_bytes(o, tables->data, tables->len);
    g_byte_array_unref(tables);
    h->file_size = o->pos;
}

gboolean dfs_image_write(const DfsIndex *idx, const char *path, guint64 stamp, gboolean compact,
                         GError **error)
{
    g_return_val_if_fail(dfs_index_flat_view(idx) == NULL, FALSE);
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
    int fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", tmp, g_strerror(errno));
        if (fd >= 0)
            close(fd), g_unlink(tmp);
        return FALSE;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    Out o = {.f = f};
    o.shared = g_hash_table_new(g_str_hash, g_str_equal);
    o.shared_text = g_string_chunk_new(64 * 1024);
    Header h = {.version = IMAGE_VERSION, .order = IMAGE_ORDER, .stamp = stamp};
    memcpy(h.magic, IMAGE_MAGIC, sizeof h.magic);
    out_bytes(&o, &h, sizeof h);
    write_body(&o, idx, compact, &h);
    g_hash_table_unref(o.shared);
    g_string_chunk_free(o.shared_text);
    gboolean ok = !o.too_big && fseek(f, 0, SEEK_SET) == 0 && fwrite(&h, sizeof h, 1, f) == 1;
    ok = fflush(f) == 0 && !ferror(f) && ok;
    int saved = errno;
    ok = fclose(f) == 0 && ok;
    if (ok && g_rename(tmp, path) == 0)
        return TRUE;
    g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", path,
                o.too_big ? "over 4 GiB of text" : g_strerror(saved ? saved : errno));
    g_unlink(tmp);
    return FALSE;
}

/* --- mapping -------------------------------------------------------------- */

typedef struct {
    gpointer base;
    gsize len;
} Mapping;

static void unmap(gpointer p)
{
    Mapping *m = p;
    munmap(m->base, m->len);
    g_free(m);
}

/* count records of size bytes at off lie inside the file. */
static gboolean inside(guint64 off, guint64 count, gsize size, guint64 file)
{
    return off % 8 == 0 && off <= file && count <= (file - off) / size;
}

static gboolean header_ok(const Header *h, guint64 stamp, guint64 file)
{
    return memcmp(h->magic, IMAGE_MAGIC, sizeof h->magic) == 0 &&
           h->version == IMAGE_VERSION && h->order == IMAGE_ORDER && h->stamp == stamp &&
           h->file_size == file && h->n_nodes > 0 && h->n_strings > 0 &&
           inside(h->strings, h->n_strings, 1, file) &&
           inside(h->nodes, h->n_nodes, sizeof(DfsImageNode), file) &&
           inside(h->kids, h->n_kids, sizeof(guint32), file) &&
           inside(h->fields, h->n_fields, sizeof(guint32), file) &&
           inside(h->skips, h->n_skips, sizeof(DfsImageSkip), file) &&
           inside(h->by_relpath, h->n_instances, sizeof(guint32), file) &&
           inside(h->tables, h->n_tables, 1, file) &&
           h->n_instances < h->n_nodes;
}

DfsIndex *dfs_image_map(const char *path, guint64 stamp, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", path, g_strerror(errno));
        return NULL;
    }
    struct stat st;
    gpointer base = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (guint64)st.st_size >= sizeof(Header))
        base = mmap(NULL, (gsize)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    const Header *h = base;
    if (base == MAP_FAILED || !header_ok(h, stamp, (guint64)st.st_size)) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "%s: not an image of this index", path);
        if (base != MAP_FAILED)
            munmap(base, (gsize)st.st_size);
        return NULL;
    }
    const guint8 *b = base;
    DfsImageView v = {
        .n_nodes = h->n_nodes, .n_kids = h->n_kids, .n_fields = h->n_fields,
        .n_skips = h->n_skips, .n_instances = h->n_instances, .n_skipped = h->n_skipped,
        .nodes = (const DfsImageNode *)(b + h->nodes), .kids = (const guint32 *)(b + h->kids),
        .fields = (const guint32 *)(b + h->fields), .skips = (const DfsImageSkip *)(b + h->skips),
        .by_relpath = (const guint32 *)(b + h->by_relpath),
        .strings = (const char *)(b + h->strings), .n_strings = h->n_strings,
        .tables = b + h->tables, .n_tables = h->n_tables,
    };
    if (v.strings[0] != '\0' || v.strings[v.n_strings - 1] != '\0') {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "%s: damaged", path);
        munmap(base, (gsize)st.st_size);
        return NULL;
    }
    /* Pages are mapped as they are touched, not their neighbours with
     * them: a walk of the folders touches a fraction of the file. */
    madvise(base, (gsize)st.st_size, MADV_RANDOM);
    Mapping *m = g_new(Mapping, 1);
    *m = (Mapping){base, (gsize)st.st_size};
    return dfs_index_new_flat(&v, m, unmap);
}

void dfs_image_forget_pages(const DfsIndex *idx)
{
    const Mapping *m = dfs_index_flat_mapping(idx);
    if (m != NULL)
        madvise(m->base, m->len, MADV_DONTNEED);
}

/* --- checking the source against it --------------------------------------- */

static gboolean has_skip(const DfsIndex *idx, const char *relpath, DfsSkipKind kind,
                         guint64 size, gint64 mtime_ns, const char *reason);

gboolean dfs_image_has_file(const DfsIndex *idx, const char *relpath, guint64 size,
                            gint64 mtime_ns)
{
    const DfsImageView *v = dfs_index_flat_view(idx);
    g_return_val_if_fail(v != NULL, FALSE);
    guint lo = 0, hi = v->n_instances;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2, id = v->by_relpath[mid];
        int r = strcmp(dfs_index_relpath(idx, id), relpath);
        if (r == 0) {
            /* Compared as seconds and nanoseconds: a damaged image's
             * seconds times 10^9 could overflow. */
            const struct timespec *t = dfs_index_mtime(idx, id);
            gint64 sec = mtime_ns / 1000000000, nsec = mtime_ns % 1000000000;
            if (nsec < 0)
                nsec += 1000000000, sec--;
            return dfs_index_size(idx, id) == size && t->tv_sec == sec && t->tv_nsec == nsec;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return has_skip(idx, relpath, DFS_SKIP_FILE, size, mtime_ns, NULL);
}

/* The first skip whose path is relpath or after it. */
static guint first_skip(const DfsIndex *idx, const char *relpath)
{
    guint lo = 0, hi = dfs_index_n_skips(idx);
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        DfsIndexSkip s;
        dfs_index_skip(idx, mid, &s);
        if (strcmp(s.relpath, relpath) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A skip of relpath of that kind whose version (a file's) or reason (a
 * walk's) is the one given. */
static gboolean has_skip(const DfsIndex *idx, const char *relpath, DfsSkipKind kind,
                         guint64 size, gint64 mtime_ns, const char *reason)
{
    DfsIndexSkip s;
    for (guint k = first_skip(idx, relpath); k < dfs_index_n_skips(idx); k++) {
        dfs_index_skip(idx, k, &s);
        if (strcmp(s.relpath, relpath) != 0)
            return FALSE;
        if (s.kind == kind && (kind == DFS_SKIP_WALK ? strcmp(s.reason, reason) == 0
                                                      : s.size == size && s.mtime_ns == mtime_ns))
            return TRUE;
    }
    return FALSE;
}

gboolean dfs_image_has_skip(const DfsIndex *idx, const char *relpath, const char *reason)
{
    return has_skip(idx, relpath, DFS_SKIP_WALK, 0, 0, reason);
}

guint dfs_image_n_entries(const DfsIndex *idx)
{
    return dfs_index_n_instances(idx) + dfs_index_n_skipped(idx);
}

char *dfs_image_path(const char *store_path)
{
    return g_strconcat(store_path, ".image", NULL);
}

/* --- when a listed source was last listed whole ------------------------------ */

void dfs_image_note_listed(const char *path, guint64 stamp)
{
    g_autofree char *at = g_strconcat(path, ".listed", NULL);
    g_autofree char *line = g_strdup_printf("%" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "\n", stamp,
                                            g_get_real_time() / G_USEC_PER_SEC);
    g_autoptr(GError) error = NULL;
    if (!g_file_set_contents(at, line, -1, &error)) /* a temporary file renamed */
        g_warning("%s", error->message);
}

gint64 dfs_image_listed_ago(const char *path, guint64 stamp)
{
    g_autofree char *at = g_strconcat(path, ".listed", NULL);
    g_autofree char *text = NULL;
    gsize len;
    if (!g_file_get_contents(at, &text, &len, NULL) || len > 64)
        return -1;
    guint64 their_stamp;
    gint64 when;
    char end;
    if (sscanf(text, "%" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "%c", &their_stamp, &when, &end) != 3 ||
        end != '\n' || their_stamp != stamp)
        return -1;
    gint64 ago = g_get_real_time() / G_USEC_PER_SEC - when;
    return ago < 0 ? -1 : ago; /* a clock set back: unknown */
}
