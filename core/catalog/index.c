/* dicomfs core: the Patient / Study / Series / Instance index.  See index.h. */
#include "catalog/index.h"
#include "catalog/index-private.h"
#include "catalog/index-impl.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"
#include "catalog/template.h"
#include "dicom/value.h"
#include "dicom/tags.h"


static Arena *arena_new(void)
{
    Arena *a = g_new0(Arena, 1);
    a->refs = 1;
    a->strings = g_string_chunk_new(ARENA_BLOCK);
    a->blocks = g_ptr_array_new_with_free_func(g_free);
    return a;
}

static Arena *arena_ref(Arena *a)
{
    g_atomic_int_inc(&a->refs);
    return a;
}

static void arena_unref(Arena *a)
{
    if (a == NULL || !g_atomic_int_dec_and_test(&a->refs))
        return;
    g_string_chunk_free(a->strings);
    g_ptr_array_unref(a->blocks);
    g_free(a);
}

static gpointer arena_alloc(Arena *a, gsize size)
{
    size = (size + 7) & ~(gsize)7;
    if (a->left < size) {
        gsize n = MAX((gsize)ARENA_BLOCK, size);
        a->pos = g_malloc0(n);
        a->left = n;
        g_ptr_array_add(a->blocks, a->pos);
    }
    gpointer p = a->pos;
    a->pos += size;
    a->left -= size;
    return p;
}

/* The same string once: for values that repeat (UIDs of classes and
 * syntaxes, level fields). */
static const char *arena_const(Arena *a, const char *s)
{
    return g_string_chunk_insert_const(a->strings, s);
}

static const char *arena_str(Arena *a, const char *s)
{
    return g_string_chunk_insert(a->strings, s);
}

/* Fields copied into the arena: an instance's UID and number are its own,
 * the rest repeat. */
static const char *const *arena_fields(Arena *a, DfsLevel level, char *const *fields)
{
    guint n = dfs_index_n_columns(level);
    const char **out = arena_alloc(a, (n + 1) * sizeof(char *));
    for (guint k = 0; k < n; k++)
        out[k] = level == DFS_LEVEL_INSTANCE && (k == IN_UID || k == IN_NUMBER)
                     ? arena_str(a, fields[k])
                     : arena_const(a, fields[k]);
    return out;
}
/* --- building ------------------------------------------------------------- */

static const Node *bnode(const DfsIndexBuilder *b, guint id)
{
    return g_ptr_array_index(b->nodes, id);
}

static GArray *bchildren(const DfsIndexBuilder *b, guint id)
{
    return g_ptr_array_index(b->children, id);
}

static void children_free(gpointer p)
{
    if (p != NULL)
        g_array_unref(p);
}

static guint add_node(DfsIndexBuilder *b, Node *n)
{
    guint id = b->nodes->len;
    g_ptr_array_add(b->nodes, n);
    guint8 one = 1;
    g_byte_array_append(b->live, &one, 1);
    g_byte_array_append(b->dirty, &one, 1);
    g_ptr_array_add(b->children,
                    n->level == DFS_LEVEL_INSTANCE ? NULL : g_array_new(FALSE, FALSE, sizeof(guint32)));
    if (id != DFS_INDEX_ROOT) {
        g_array_append_val(bchildren(b, n->parent), id);
        b->dirty->data[n->parent] = 1;
    }
    return id;
}

DfsIndexBuilder *dfs_index_builder_new(void)
{
    DfsIndexBuilder *b = g_new0(DfsIndexBuilder, 1);
    b->arena = arena_new();
    b->nodes = g_ptr_array_new();
    b->live = g_byte_array_new();
    b->dirty = g_byte_array_new();
    b->children = g_ptr_array_new_with_free_func(children_free);
    b->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    b->by_relpath = g_hash_table_new(g_str_hash, g_str_equal);
    b->sop_uids = g_hash_table_new(g_str_hash, g_str_equal);
    b->skips = g_array_new(FALSE, FALSE, sizeof(Skip));
    for (guint l = DFS_LEVEL_PATIENT; l < DFS_LEVEL_INSTANCE; l++) {
        b->last_keys[l] = g_string_new(NULL);
        b->keys[l] = g_string_new(NULL);
    }
    b->full = g_string_new(NULL);
    b->replaced = g_hash_table_new(g_str_hash, g_str_equal);
    b->inherit = g_hash_table_new(NULL, NULL);
    b->claimed = g_hash_table_new(NULL, NULL);
    b->gone = g_array_new(FALSE, FALSE, sizeof(guint32));
    b->emptied = g_array_new(FALSE, FALSE, sizeof(guint32));
    Node *root = arena_alloc(b->arena, sizeof(Node));
    root->key = "";
    root->level = DFS_LEVEL_ROOT;
    add_node(b, root);
    return b;
}

void dfs_index_builder_free(DfsIndexBuilder *b)
{
    if (b == NULL)
        return;
    arena_unref(b->arena);
    g_ptr_array_unref(b->nodes);
    g_byte_array_unref(b->live);
    g_byte_array_unref(b->dirty);
    dfs_index_unref(b->last);
    g_ptr_array_unref(b->children);
    g_hash_table_unref(b->by_key);
    g_hash_table_unref(b->by_relpath);
    g_hash_table_unref(b->sop_uids);
    g_array_unref(b->skips);
    for (guint l = DFS_LEVEL_PATIENT; l < DFS_LEVEL_INSTANCE; l++) {
        g_string_free(b->last_keys[l], TRUE);
        g_string_free(b->keys[l], TRUE);
    }
    g_string_free(b->full, TRUE);
    g_hash_table_unref(b->replaced);
    g_hash_table_unref(b->inherit);
    g_hash_table_unref(b->claimed);
    g_array_unref(b->gone);
    g_array_unref(b->emptied);
    dfs_index_unref(b->seed);
    g_free(b);
}

void dfs_index_builder_keep_names(DfsIndexBuilder *b)
{
    b->keep_names = TRUE;
}

void dfs_index_builder_seed_names(DfsIndexBuilder *b, DfsIndex *seed)
{
    dfs_index_unref(b->seed);
    b->seed = seed != NULL ? dfs_index_ref(seed) : NULL;
}

/* The child of parent with key; a new one takes the level's fields. */
static guint find_or_add(DfsIndexBuilder *b, guint parent, DfsLevel level, const char *key,
                         const DfsFacts *facts)
{
    g_string_printf(b->full, "%u\x1f%s", parent, key);
    gpointer found;
    if (g_hash_table_lookup_extended(b->by_key, b->full->str, NULL, &found))
        return GPOINTER_TO_UINT(found);
    Node *n = arena_alloc(b->arena, sizeof(Node));
    n->key = arena_str(b->arena, key);
    n->level = (guint8)level;
    n->parent = parent;
    n->fields = arena_fields(b->arena, level, facts->fields[level]);
    guint id = add_node(b, n);
    g_hash_table_insert(b->by_key, g_strndup(b->full->str, b->full->len), GUINT_TO_POINTER(id));
    return id;
}

static void key_parts(GString *key, const char *kind, const char *a, const char *b)
{
    g_string_assign(key, kind);
    g_string_append_c(key, '\x1f');
    g_string_append(key, a);
    if (b != NULL) {
        g_string_append_c(key, '\x1f');
        g_string_append(key, b);
    }
}

static void patient_key(GString *key, const DfsFacts *f)
{
    char **p = f->fields[DFS_LEVEL_PATIENT];
    if (p[P_ID][0])
        key_parts(key, "id", p[P_ID], p[P_ISSUER]);
    else
        key_parts(key, "name", p[P_NAME], NULL);
}

/* A UID, or the file's path where it is missing (so it merges nothing). */
static void uid_key(GString *key, const char *uid, const char *relpath)
{
    if (uid[0])
        key_parts(key, "uid", uid, NULL);
    else
        key_parts(key, "file", relpath, NULL);
}

static void add_skip(DfsIndexBuilder *b, const char *relpath, const struct stat *st,
                     const char *reason, DfsSkipKind kind)
{
    Skip s = {arena_str(b->arena, relpath), arena_str(b->arena, reason), 0, 0, kind};
    if (st != NULL) {
        s.size = (guint64)st->st_size;
        s.mtime_ns = (gint64)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    }
    g_array_append_val(b->skips, s);
}

static void note_duplicate(DfsIndexBuilder *b, const char *relpath, const char *uid)
{
    if (uid[0] == '\0')
        return;
    const char *first = g_hash_table_lookup(b->sop_uids, uid);
    if (first == NULL) {
        g_hash_table_insert(b->sop_uids, (gpointer)uid, (gpointer)relpath);
        return;
    }
    g_autofree char *reason =
        g_strdup_printf("duplicate SOP Instance UID, also in %s (both are shown)", first);
    add_skip(b, relpath, NULL, reason, DFS_SKIP_NOTE);
}

/* Instance id keeps the name of the one it replaces, taken out since the
 * last snapshot from the same series: the same file read again, or the
 * same SOP Instance UID under another path (a file or its folder renamed). */
static void inherit_name(DfsIndexBuilder *b, guint id, guint series)
{
    const Node *n = bnode(b, id);
    const char *uid = n->fields[IN_UID];
    gpointer old;
    for (int by_uid = 0; by_uid < 2; by_uid++) {
        const char *key = by_uid ? uid : n->relpath;
        g_autofree char *uid_key = by_uid ? g_strconcat("\x1fuid:", uid, NULL) : NULL;
        if ((by_uid && uid[0] == '\0') ||
            !g_hash_table_lookup_extended(b->replaced, by_uid ? uid_key : key, NULL, &old) ||
            bnode(b, GPOINTER_TO_UINT(old))->parent != series)
            continue;
        g_hash_table_remove(b->replaced, by_uid ? uid_key : key);
        /* One name, one heir (two files may share a UID). */
        if (!g_hash_table_add(b->claimed, old))
            continue;
        g_hash_table_insert(b->inherit, GUINT_TO_POINTER(id), old);
        return;
    }
}

guint dfs_index_builder_add(DfsIndexBuilder *b, const char *relpath, const struct stat *st,
                            DfsFacts *facts)
{
    if (facts->dicomdir) {
        dfs_index_builder_skip(b, relpath, st, "DICOMDIR (a media directory, not an instance)");
        dfs_facts_free(facts);
        return DFS_NO_INDEX;
    }
    GString **keys = b->keys;
    patient_key(keys[DFS_LEVEL_PATIENT], facts);
    uid_key(keys[DFS_LEVEL_STUDY], facts->fields[DFS_LEVEL_STUDY][ST_UID], relpath);
    if (facts->folder) { /* its folders down to its level, the rest to come */
        guint parent = DFS_INDEX_ROOT;
        uid_key(keys[DFS_LEVEL_SERIES], facts->fields[DFS_LEVEL_SERIES][SE_UID], relpath);
        for (guint l = DFS_LEVEL_PATIENT; l <= facts->folder; l++)
            parent = find_or_add(b, parent, (DfsLevel)l, keys[l]->str, facts);
        dfs_facts_free(facts);
        return DFS_NO_INDEX;
    }
    uid_key(keys[DFS_LEVEL_SERIES], facts->fields[DFS_LEVEL_SERIES][SE_UID], relpath);
    guint ids[DFS_LEVEL_INSTANCE] = {DFS_INDEX_ROOT};
    gboolean same = TRUE;
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_SERIES; l++) {
        same = same && g_string_equal(keys[l], b->last_keys[l]) && b->live->data[b->last_ids[l]];
        ids[l] = same ? b->last_ids[l]
                      : find_or_add(b, ids[l - 1], (DfsLevel)l, keys[l]->str, facts);
        if (!same) {
            g_string_assign(b->last_keys[l], keys[l]->str);
            b->last_ids[l] = ids[l];
        }
    }
    guint series = ids[DFS_LEVEL_SERIES];
    Node *n = arena_alloc(b->arena, sizeof(Node));
    n->level = DFS_LEVEL_INSTANCE;
    n->parent = series;
    n->fields = arena_fields(b->arena, DFS_LEVEL_INSTANCE, facts->fields[DFS_LEVEL_INSTANCE]);
    n->relpath = arena_str(b->arena, relpath);
    n->size = (guint64)st->st_size;
    n->mtime = st->st_mtim;
    guint id = add_node(b, n);
    g_hash_table_insert(b->by_relpath, (gpointer)n->relpath, GUINT_TO_POINTER(id));
    if (b->keep_names)
        inherit_name(b, id, series);
    note_duplicate(b, n->relpath, n->fields[IN_UID]);
    dfs_facts_free(facts);
    return id;
}

void dfs_index_builder_file(DfsIndexBuilder *b, const char *relpath, const struct stat *st,
                            DfsFacts *facts, const char *reason)
{
    if (facts == NULL)
        dfs_index_builder_skip(b, relpath, st, reason);
    else if (dfs_index_builder_add(b, relpath, st, facts) != DFS_NO_INDEX && reason != NULL)
        dfs_index_builder_note(b, relpath, reason);
}

void dfs_index_builder_skip(DfsIndexBuilder *b, const char *relpath, const struct stat *st,
                            const char *reason)
{
    add_skip(b, relpath, st, reason, st != NULL ? DFS_SKIP_FILE : DFS_SKIP_WALK);
}

void dfs_index_builder_note(DfsIndexBuilder *b, const char *relpath, const char *reason)
{
    add_skip(b, relpath, NULL, reason, DFS_SKIP_NOTE);
}

/* Take node out of its parent's children; a folder left empty goes too,
 * at once, or, where names are kept, when the next snapshot is made
 * (prune_emptied): a series whose files all go in one update and come
 * back under another path (its folder renamed) is the same folder, and
 * its instances keep their names. */
static void unlink_node(DfsIndexBuilder *b, guint id)
{
    while (id != DFS_INDEX_ROOT) {
        const Node *n = bnode(b, id);
        GArray *siblings = bchildren(b, n->parent);
        for (guint k = 0; k < siblings->len; k++)
            if (g_array_index(siblings, guint32, k) == id) {
                g_array_remove_index(siblings, k);
                break;
            }
        b->dirty->data[n->parent] = 1;
        b->live->data[id] = 0;
        guint32 gone = id;
        g_array_append_val(b->gone, gone);
        if (n->level != DFS_LEVEL_INSTANCE) {
            /* A file of the same key later makes a new folder. */
            g_autofree char *full = g_strdup_printf("%u\x1f%s", n->parent, n->key);
            g_hash_table_remove(b->by_key, full);
        }
        if (siblings->len > 0)
            return;
        if (b->keep_names && n->parent != DFS_INDEX_ROOT) {
            guint32 parent = n->parent;
            g_array_append_val(b->emptied, parent);
            return;
        }
        id = n->parent;
    }
}

/* The folders left empty since the last snapshot and still empty go (and
 * those above them left empty by that). */
static void prune_emptied(DfsIndexBuilder *b)
{
    for (guint k = 0; k < b->emptied->len; k++) { /* unlink_node may append */
        guint id = g_array_index(b->emptied, guint32, k);
        if (b->live->data[id] && bchildren(b, id)->len == 0)
            unlink_node(b, id);
    }
    g_array_set_size(b->emptied, 0);
}

void dfs_index_builder_remove(DfsIndexBuilder *b, const char *relpath)
{
    gpointer found;
    if (g_hash_table_lookup_extended(b->by_relpath, relpath, NULL, &found)) {
        guint id = GPOINTER_TO_UINT(found);
        const Node *n = bnode(b, id);
        const char *uid = n->fields[IN_UID];
        if (g_strcmp0(g_hash_table_lookup(b->sop_uids, uid), n->relpath) == 0)
            g_hash_table_remove(b->sop_uids, uid);
        g_hash_table_remove(b->by_relpath, relpath);
        unlink_node(b, id);
        if (b->keep_names) {
            g_hash_table_replace(b->replaced, (gpointer)n->relpath, GUINT_TO_POINTER(id));
            if (uid[0] != '\0') {
                g_autofree char *uid_key = g_strconcat("\x1fuid:", uid, NULL);
                g_hash_table_replace(b->replaced, (gpointer)arena_str(b->arena, uid_key),
                                     GUINT_TO_POINTER(id));
            }
        }
    }
    for (guint k = b->skips->len; k-- > 0;)
        if (strcmp(g_array_index(b->skips, Skip, k).relpath, relpath) == 0)
            g_array_remove_index(b->skips, k);
}

void dfs_index_builder_remove_under(DfsIndexBuilder *b, const char *prefix)
{
    if (prefix[0] == '\0') {
        g_autofree char **all = (char **)g_hash_table_get_keys_as_array(b->by_relpath, NULL);
        for (char **p = all; *p != NULL; p++)
            dfs_index_builder_remove(b, *p);
        g_array_set_size(b->skips, 0);
        return;
    }
    gsize n = strlen(prefix);
    GPtrArray *under = g_ptr_array_new();
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, b->by_relpath);
    while (g_hash_table_iter_next(&it, &key, NULL))
        if (strncmp(key, prefix, n) == 0 && ((const char *)key)[n] == '/')
            g_ptr_array_add(under, key);
    for (guint k = 0; k < under->len; k++)
        dfs_index_builder_remove(b, under->pdata[k]);
    g_ptr_array_unref(under);
    for (guint k = b->skips->len; k-- > 0;) {
        const char *r = g_array_index(b->skips, Skip, k).relpath;
        if (strncmp(r, prefix, n) == 0 && r[n] == '/')
            g_array_remove_index(b->skips, k);
    }
    dfs_index_builder_remove(b, prefix);
}

static gboolean is_under(const char *path, const char *prefix, gsize n)
{
    return n == 0 || (strncmp(path, prefix, n) == 0 && (path[n] == '/' || path[n] == '\0'));
}

void dfs_index_builder_paths_under(const DfsIndexBuilder *b, const char *prefix, GPtrArray *out)
{
    gsize n = strlen(prefix);
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, b->by_relpath);
    while (g_hash_table_iter_next(&it, &key, NULL))
        if (is_under(key, prefix, n))
            g_ptr_array_add(out, key);
    for (guint k = 0; k < b->skips->len; k++) {
        const Skip *sk = &g_array_index(b->skips, Skip, k);
        if (sk->kind != DFS_SKIP_NOTE && is_under(sk->relpath, prefix, n))
            g_ptr_array_add(out, (gpointer)sk->relpath);
    }
}

gboolean dfs_index_builder_version(const DfsIndexBuilder *b, const char *relpath, guint64 *size,
                                   gint64 *mtime_ns)
{
    gpointer found;
    if (g_hash_table_lookup_extended(b->by_relpath, relpath, NULL, &found)) {
        const Node *n = bnode(b, GPOINTER_TO_UINT(found));
        *size = n->size;
        *mtime_ns = (gint64)n->mtime.tv_sec * 1000000000 + n->mtime.tv_nsec;
        return TRUE;
    }
    for (guint k = 0; k < b->skips->len; k++) {
        const Skip *sk = &g_array_index(b->skips, Skip, k);
        if (sk->kind == DFS_SKIP_FILE && strcmp(sk->relpath, relpath) == 0) {
            *size = sk->size;
            *mtime_ns = sk->mtime_ns;
            return TRUE;
        }
    }
    return FALSE;
}

void dfs_index_builder_delta(DfsIndexBuilder *b, GArray *changed, GArray *gone)
{
    prune_emptied(b);
    for (guint k = 0; k < b->dirty->len; k++)
        if (b->dirty->data[k]) {
            guint32 id = k;
            g_array_append_val(changed, id);
        }
    g_array_append_vals(gone, b->gone->data, b->gone->len);
}

/* --- snapshots: names and order ------------------------------------------- */

typedef struct {
    const DfsIndex *idx;
    const Node *node;
} TemplateNode;

/* Column k of node's ancestor at level (or its own). */
static const char *template_value(DfsLevel level, guint k, gpointer user)
{
    const TemplateNode *t = user;
    const Node *n = t->node;
    while (n->level > level && n->parent < t->idx->n_nodes && n->level > DFS_LEVEL_PATIENT)
        n = t->idx->nodes[n->parent];
    return n->level == level && k < dfs_index_n_columns(level) ? n->fields[k] : "";
}

/* A node's name: its level's template's (template.h), or the default. */
static char *child_name(const DfsIndex *idx, const Node *c, guint width)
{
    const DfsTemplate *t = dfs_templates_get((DfsLevel)c->level);
    if (t != NULL) {
        TemplateNode tn = {idx, c};
        return dfs_template_expand(t, template_value, &tn);
    }
    const char *const *f = c->fields;
    switch (c->level) {
    case DFS_LEVEL_PATIENT:
        return dfs_name_patient(f[P_NAME], f[P_ID]);
    case DFS_LEVEL_STUDY:
        return dfs_name_study(f[ST_DATE], f[ST_DESC]);
    case DFS_LEVEL_SERIES:
        return dfs_name_series(f[SE_NUMBER], width, f[SE_MODALITY], f[SE_DESC]);
    default:
        return dfs_name_instance(f[IN_NUMBER], width);
    }
}

/* The number every sibling pads to: the widest among them. */
static guint number_width(const DfsIndex *idx, const guint32 *ch, guint n)
{
    guint width = 1;
    for (guint k = 0; k < n; k++) {
        const Node *c = idx->nodes[ch[k]];
        if (c->level == DFS_LEVEL_SERIES)
            width = MAX(width, dfs_name_number_width(c->fields[SE_NUMBER]));
        else if (c->level == DFS_LEVEL_INSTANCE)
            width = MAX(width, dfs_name_number_width(c->fields[IN_NUMBER]));
    }
    return width;
}

static int by_child_name(gconstpointer a, gconstpointer b, gpointer user)
{
    const char **names = user;
    return strcmp(names[*(const guint32 *)a], names[*(const guint32 *)b]);
}

static const char *node_key(const DfsIndex *idx, guint id)
{
    if (idx->is_flat) {
        const DfsImageNode *f = fnode(idx, id);
        return fstr(idx, f->level == DFS_LEVEL_INSTANCE ? f->relpath : f->key);
    }
    const Node *n = idx->nodes[id];
    return n->level == DFS_LEVEL_INSTANCE ? n->relpath : n->key;
}

/* The live instance of a flat index (a mapped image) filed from relpath,
 * or DFS_NO_INDEX. */
static guint seed_instance(const DfsIndex *seed, const char *relpath)
{
    if (!seed->is_flat)
        return DFS_NO_INDEX;
    guint lo = 0, hi = seed->flat.n_instances;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2, id = seed->flat.by_relpath[mid];
        int r = strcmp(dfs_index_relpath(seed, id), relpath);
        if (r == 0)
            return id;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return DFS_NO_INDEX;
}

/* The name child c was shown under and keeps, or NULL for a new one: its
 * own in the last snapshot, its old version's (a file read again), or the
 * seed's when the seed's node c is the same (level, parent and key). */
static const char *kept_name(const DfsIndexBuilder *b, const DfsIndex *idx, guint c)
{
    const DfsIndex *last = b->last;
    if (b->keep_names && last != NULL) {
        gpointer old;
        guint from = g_hash_table_lookup_extended(b->inherit, GUINT_TO_POINTER(c), NULL, &old)
                         ? GPOINTER_TO_UINT(old)
                         : c;
        if (from < last->n_nodes && last->live[from] && last->names[from] != NULL)
            return last->names[from];
    }
    const DfsIndex *seed = b->seed;
    if (seed == NULL)
        return NULL;
    const Node *n = idx->nodes[c];
    const char *key = n->level == DFS_LEVEL_INSTANCE ? n->relpath : n->key;
    if (dfs_index_is_live(seed, c) && dfs_index_level(seed, c) == (DfsLevel)n->level &&
        dfs_index_parent(seed, c) == n->parent && g_strcmp0(node_key(seed, c), key) == 0)
        return dfs_index_name(seed, c);
    /* A file changed since: its new version has a new number, and the
     * name its old one had in the same series. */
    guint s = n->level == DFS_LEVEL_INSTANCE ? seed_instance(seed, n->relpath) : DFS_NO_INDEX;
    return s != DFS_NO_INDEX && dfs_index_parent(seed, s) == n->parent ? dfs_index_name(seed, s)
                                                                       : NULL;
}

/* Name the children ch[0..n) of one folder and sort them by name.  Names
 * already shown stay (b's keep_names, seed); new ones are made around
 * them. */
/* The width the names shown pad their numbers to: the fewest leading
 * digits among them (1..9 and 10 were named at width 1, 01..10 at 2), or 0
 * when none starts with a number. */
static guint shown_width(char **names, const gboolean *kept, guint n)
{
    guint width = 0;
    for (guint k = 0; k < n; k++) {
        guint d = 0;
        while (kept[k] && g_ascii_isdigit(names[k][d]))
            d++;
        if (d > 0 && (width == 0 || d < width))
            width = d;
    }
    return width;
}

static void name_children(const DfsIndexBuilder *b, DfsIndex *idx, guint32 *ch, guint n)
{
    g_autofree char **names = g_new(char *, n);
    g_autofree gboolean *kept = g_new0(gboolean, n);
    gboolean any_kept = FALSE;
    for (guint k = 0; k < n; k++) {
        const char *was = kept_name(b, idx, ch[k]);
        kept[k] = was != NULL;
        any_kept |= kept[k];
        names[k] = was != NULL ? g_strdup(was) : NULL;
    }
    /* New siblings are padded as the names shown are, not the reverse. */
    guint width = any_kept ? shown_width(names, kept, n) : 0;
    if (width == 0)
        width = number_width(idx, ch, n);
    for (guint k = 0; k < n; k++)
        if (!kept[k])
            names[k] = child_name(idx, idx->nodes[ch[k]], width);
    if (any_kept) {
        /* Sorted by key as the suffixes go, then by name below. */
        g_autofree char **own_keys = g_new0(char *, n);
        g_autofree const char **keys = g_new(const char *, n);
        for (guint k = 0; k < n; k++) {
            const Node *c = idx->nodes[ch[k]];
            if (c->level == DFS_LEVEL_INSTANCE)
                keys[k] = own_keys[k] = g_strdup_printf("%s\x1f%s", c->fields[IN_UID], c->relpath);
            else
                keys[k] = c->key;
        }
        dfs_names_make_unique_kept(names, (const char *const *)keys, kept, n);
        for (guint k = 0; k < n; k++)
            g_free(own_keys[k]);
    }
    for (guint k = 0; k < n; k++)
        idx->names[ch[k]] = names[k];
    g_qsort_with_data(ch, (gint)n, sizeof(guint32), by_child_name, idx->names);
    gboolean repeats = FALSE;
    for (guint k = 1; k < n && !repeats; k++)
        repeats = strcmp(idx->names[ch[k - 1]], idx->names[ch[k]]) == 0;
    if (repeats) {
        /* Same-named siblings get " (2)", " (3)" ... by key: instances in
         * SOP Instance UID order. */
        g_autofree char **own_keys = g_new0(char *, n);
        g_autofree const char **keys = g_new(const char *, n);
        for (guint k = 0; k < n; k++) {
            const Node *c = idx->nodes[ch[k]];
            names[k] = (char *)idx->names[ch[k]];
            if (c->level == DFS_LEVEL_INSTANCE)
                keys[k] = own_keys[k] = g_strdup_printf("%s\x1f%s", c->fields[IN_UID], c->relpath);
            else
                keys[k] = c->key;
        }
        dfs_names_make_unique(names, (const char *const *)keys, n);
        for (guint k = 0; k < n; k++) {
            idx->names[ch[k]] = names[k];
            g_free(own_keys[k]);
        }
        g_qsort_with_data(ch, (gint)n, sizeof(guint32), by_child_name, idx->names);
    }
    for (guint k = 0; k < n; k++) {
        char *own = (char *)idx->names[ch[k]];
        idx->names[ch[k]] = g_string_chunk_insert(idx->name_strings, own);
        g_free(own);
    }
}

static int by_skip_path(gconstpointer a, gconstpointer b, gpointer user)
{
    const Skip *x = a, *y = b;
    int r = strcmp(x->relpath, y->relpath);
    return r ? r : strcmp(x->reason, y->reason);
}

DfsIndex *dfs_index_builder_snapshot(DfsIndexBuilder *b)
{
    prune_emptied(b);
    DfsIndex *idx = g_new0(DfsIndex, 1);
    guint n = b->nodes->len;
    idx->refs = 1;
    idx->arena = arena_ref(b->arena);
    idx->n_nodes = n;
    idx->nodes = g_memdup2(b->nodes->pdata, n * sizeof(Node *));
    idx->live = g_memdup2(b->live->data, n);
    idx->names = g_new0(const char *, n);
    idx->names[DFS_INDEX_ROOT] = "";
    idx->first_child = g_new0(guint32, n);
    idx->n_children = g_new0(guint32, n);
    idx->first_instance = g_new(guint32, n);
    idx->name_strings = g_string_chunk_new(64 * 1024);
    guint total = 0;
    for (guint k = 0; k < n; k++) {
        GArray *ch = bchildren(b, k);
        idx->first_child[k] = total;
        idx->n_children[k] = idx->live[k] && ch ? ch->len : 0;
        total += idx->n_children[k];
        idx->first_instance[k] = DFS_NO_INDEX;
    }
    idx->kids = g_new(guint32, MAX(total, 1u));
    const DfsIndex *last = b->last;
    for (guint k = 0; k < n; k++) {
        guint nc = idx->n_children[k];
        if (nc == 0)
            continue;
        guint32 *ch = idx->kids + idx->first_child[k];
        if (last != NULL && k < last->n_nodes && !b->dirty->data[k] && last->n_children[k] == nc) {
            /* The same children as last time: the same names and order. */
            memcpy(ch, last->kids + last->first_child[k], nc * sizeof(guint32));
            for (guint c = 0; c < nc; c++)
                idx->names[ch[c]] = g_string_chunk_insert(idx->name_strings, last->names[ch[c]]);
            continue;
        }
        memcpy(ch, bchildren(b, k)->data, nc * sizeof(guint32));
        name_children(b, idx, ch, nc);
    }
    memset(b->dirty->data, 0, b->dirty->len);
    g_array_set_size(b->gone, 0);
    g_hash_table_remove_all(b->replaced);
    g_hash_table_remove_all(b->inherit);
    g_hash_table_remove_all(b->claimed);
    dfs_index_unref(b->last);
    b->last = dfs_index_ref(idx);
    /* Each folder's representative: its first filed live instance. */
    for (guint k = 0; k < n; k++) {
        if (!idx->live[k] || idx->nodes[k]->level != DFS_LEVEL_INSTANCE)
            continue;
        idx->n_instances++;
        for (guint a = k; a != DFS_INDEX_ROOT && idx->first_instance[a] == DFS_NO_INDEX;
             a = idx->nodes[a]->parent)
            idx->first_instance[a] = k;
    }
    idx->n_skips = b->skips->len;
    idx->skips = g_memdup2(b->skips->data, idx->n_skips * sizeof(Skip));
    /* By path, whatever order a rescan met them in. */
    g_qsort_with_data(idx->skips, (gint)idx->n_skips, sizeof(Skip), by_skip_path, NULL);
    for (guint k = 0; k < idx->n_skips; k++)
        idx->n_skipped += idx->skips[k].kind != DFS_SKIP_NOTE;
    return idx;
}

DfsIndex *dfs_index_new_empty(void)
{
    g_autoptr(DfsIndexBuilder) b = dfs_index_builder_new();
    return dfs_index_builder_snapshot(b);
}

DfsIndex *dfs_index_ref(DfsIndex *idx)
{
    g_atomic_int_inc(&idx->refs);
    return idx;
}

void dfs_index_unref(DfsIndex *idx)
{
    if (idx == NULL || !g_atomic_int_dec_and_test(&idx->refs))
        return;
    if (idx->release != NULL)
        idx->release(idx->mapping);
    arena_unref(idx->arena);
    g_free(idx->nodes);
    g_free(idx->live);
    g_free(idx->names);
    g_free(idx->first_child);
    g_free(idx->n_children);
    g_free(idx->kids);
    g_free(idx->first_instance);
    g_free(idx->skips);
    if (idx->name_strings != NULL)
        g_string_chunk_free(idx->name_strings);
    for (guint k = 0; k < DFS_INDEX_EXTRAS; k++)
        if (idx->extras[k] != NULL)
            idx->extras_free[k](idx->extras[k]);
    g_free(idx);
}

gpointer dfs_index_get_extra(const DfsIndex *idx, guint slot)
{
    g_return_val_if_fail(slot < DFS_INDEX_EXTRAS, NULL);
    return g_atomic_pointer_get((gpointer *)&idx->extras[slot]);
}

gpointer dfs_index_set_extra(const DfsIndex *idx, guint slot, gpointer data, GDestroyNotify free)
{
    g_return_val_if_fail(slot < DFS_INDEX_EXTRAS, NULL);
    DfsIndex *mut = (DfsIndex *)idx; /* a cache beside the immutable snapshot */
    mut->extras_free[slot] = free;   /* the same function for every setter of a slot */
    if (g_atomic_pointer_compare_and_exchange(&mut->extras[slot], NULL, data))
        return data;
    free(data);
    return g_atomic_pointer_get(&mut->extras[slot]);
}

