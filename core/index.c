/* dicomfs core: the Patient / Study / Series / Instance index.  See index.h. */
#include "index.h"

#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "tags.h"

/* The facts kept per level: they name the folders and fill the .tsv tables.
 * Everything else is read from the files on demand. */
typedef struct {
    const char *column;
    guint32 tag;
} Column;

static const Column patient_cols[] = {
    {"PatientName", DFS_TAG_PATIENT_NAME},       {"PatientID", DFS_TAG_PATIENT_ID},
    {"IssuerOfPatientID", DFS_TAG_ISSUER_OF_PATIENT_ID},
    {"PatientBirthDate", DFS_TAG_PATIENT_BIRTH_DATE}, {"PatientSex", DFS_TAG_PATIENT_SEX},
    {NULL, 0},
};
static const Column study_cols[] = {
    {"StudyDate", DFS_TAG_STUDY_DATE},
    {"StudyDescription", DFS_TAG_STUDY_DESCRIPTION},
    {"AccessionNumber", DFS_TAG_ACCESSION_NUMBER},
    {"StudyID", DFS_TAG_STUDY_ID},
    {"StudyInstanceUID", DFS_TAG_STUDY_INSTANCE_UID},
    {NULL, 0},
};
static const Column series_cols[] = {
    {"SeriesNumber", DFS_TAG_SERIES_NUMBER},
    {"Modality", DFS_TAG_MODALITY},
    {"SeriesDescription", DFS_TAG_SERIES_DESCRIPTION},
    {"SeriesInstanceUID", DFS_TAG_SERIES_INSTANCE_UID},
    {NULL, 0},
};
static const Column instance_cols[] = {
    {"InstanceNumber", DFS_TAG_INSTANCE_NUMBER},
    {"SOPInstanceUID", DFS_TAG_SOP_INSTANCE_UID},
    {"SOPClassUID", DFS_TAG_SOP_CLASS_UID},
    {"TransferSyntaxUID", DFS_TAG_TRANSFER_SYNTAX_UID},
    {NULL, 0},
};

static const Column *const level_cols[] = {NULL, patient_cols, study_cols, series_cols,
                                           instance_cols};

/* Column positions used for names and keys. */
enum { P_NAME, P_ID, P_ISSUER };
enum { ST_DATE, ST_DESC, ST_ACCESSION, ST_ID, ST_UID };
enum { SE_NUMBER, SE_MODALITY, SE_DESC, SE_UID };
enum { IN_NUMBER, IN_UID, IN_CLASS, IN_TS };

typedef struct {
    char *name;
    char *key;        /* what groups it among its siblings */
    char **fields;    /* per level_cols[level], "" where absent */
    GArray *children; /* guint32 node ids; NULL for instances */
    guint32 parent;
    guint8 level;
    /* instances only */
    char *relpath;
    guint64 size;
    struct timespec mtime;
} Node;

typedef struct {
    char *relpath;
    char *reason;
} Skip;

struct _DfsIndex {
    GPtrArray *nodes;     /* Node* */
    GHashTable *by_key;   /* "parent\x1fkey" -> node id, while building */
    GHashTable *sop_uids; /* SOP Instance UID -> first relpath, while building */
    GArray *skips;        /* Skip */
    guint n_skipped;      /* skips that are not in the tree (duplicates are) */
    guint n_instances;
};

static void node_free(gpointer p)
{
    Node *n = p;
    g_free(n->name);
    g_free(n->key);
    g_strfreev(n->fields);
    if (n->children)
        g_array_unref(n->children);
    g_free(n->relpath);
    g_free(n);
}

static void skip_clear(gpointer p)
{
    Skip *s = p;
    g_free(s->relpath);
    g_free(s->reason);
}

DfsIndex *dfs_index_new(void)
{
    DfsIndex *idx = g_new0(DfsIndex, 1);
    idx->nodes = g_ptr_array_new_with_free_func(node_free);
    idx->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    idx->sop_uids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    idx->skips = g_array_new(FALSE, FALSE, sizeof(Skip));
    g_array_set_clear_func(idx->skips, skip_clear);
    Node *root = g_new0(Node, 1);
    root->children = g_array_new(FALSE, FALSE, sizeof(guint32));
    root->name = g_strdup("");
    g_ptr_array_add(idx->nodes, root);
    return idx;
}

void dfs_index_free(DfsIndex *idx)
{
    if (idx == NULL)
        return;
    g_ptr_array_unref(idx->nodes);
    if (idx->by_key)
        g_hash_table_unref(idx->by_key);
    if (idx->sop_uids)
        g_hash_table_unref(idx->sop_uids);
    g_array_unref(idx->skips);
    g_free(idx);
}

static Node *node(const DfsIndex *idx, guint id)
{
    return g_ptr_array_index(idx->nodes, id);
}

struct _DfsFacts {
    gboolean dicomdir;
    char **fields[DFS_LEVEL_INSTANCE + 1]; /* per level_cols; [0] unused */
};

static char **read_fields(const DfsDataset *ds, DfsLevel level)
{
    const Column *cols = level_cols[level];
    guint n = 0;
    while (cols[n].column)
        n++;
    char **f = g_new0(char *, n + 1);
    for (guint k = 0; k < n; k++) {
        char *v = dfs_dataset_get_string(ds, DFS_ROOT, cols[k].tag);
        f[k] = v ? v : g_strdup("");
    }
    return f;
}

static gboolean is_dicomdir(const DfsDataset *ds)
{
    g_autofree char *cls = dfs_dataset_get_string(ds, DFS_ROOT, DFS_TAG_MEDIA_STORAGE_SOP_CLASS_UID);
    return g_strcmp0(cls, "1.2.840.10008.1.3.10") == 0 ||
           dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_DIRECTORY_RECORD_SEQUENCE) != DFS_NO_INDEX;
}

DfsFacts *dfs_facts_new(const DfsDataset *ds)
{
    DfsFacts *f = g_new0(DfsFacts, 1);
    f->dicomdir = is_dicomdir(ds);
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++)
        f->fields[l] = read_fields(ds, (DfsLevel)l);
    /* Without File Meta Information the syntax is the one detected. */
    char **ts = &f->fields[DFS_LEVEL_INSTANCE][IN_TS];
    if ((*ts)[0] == '\0') {
        g_free(*ts);
        *ts = g_strdup(dfs_dataset_transfer_syntax(ds));
    }
    return f;
}

void dfs_facts_free(DfsFacts *f)
{
    if (f == NULL)
        return;
    for (guint l = 0; l <= DFS_LEVEL_INSTANCE; l++)
        g_strfreev(f->fields[l]);
    g_free(f);
}

/* "D" or "-" for the DICOMDIR flag, then per level the field count and each
 * field as "<length>:<bytes>": lengths make any byte in a value safe. */
GBytes *dfs_facts_serialize(const DfsFacts *f)
{
    GString *s = g_string_new(f->dicomdir ? "D" : "-");
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        guint n = g_strv_length(f->fields[l]);
        g_string_append_printf(s, "%u;", n);
        for (guint k = 0; k < n; k++) {
            g_string_append_printf(s, "%zu:", strlen(f->fields[l][k]));
            g_string_append(s, f->fields[l][k]);
        }
    }
    return g_string_free_to_bytes(s);
}

/* A decimal number ended by `stop`, advancing *p; FALSE if malformed. */
static gboolean read_count(const char **p, const char *end, char stop, gsize *out)
{
    gsize v = 0;
    const char *q = *p;
    while (q < end && g_ascii_isdigit(*q) && v < G_MAXUINT32)
        v = v * 10 + (gsize)(*q++ - '0');
    if (q == *p || q >= end || *q != stop)
        return FALSE;
    *p = q + 1;
    *out = v;
    return TRUE;
}

DfsFacts *dfs_facts_deserialize(const guint8 *data, gsize len)
{
    const char *p = (const char *)data, *end = p + len;
    if (len < 1 || (*p != 'D' && *p != '-'))
        return NULL;
    DfsFacts *f = g_new0(DfsFacts, 1);
    f->dicomdir = *p++ == 'D';
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        gsize n, cols = 0;
        while (level_cols[l][cols].column)
            cols++;
        if (!read_count(&p, end, ';', &n) || n != cols)
            return dfs_facts_free(f), NULL;
        f->fields[l] = g_new0(char *, n + 1);
        for (gsize k = 0; k < n; k++) {
            gsize flen;
            if (!read_count(&p, end, ':', &flen) || flen > (gsize)(end - p))
                return dfs_facts_free(f), NULL;
            f->fields[l][k] = g_strndup(p, flen);
            p += flen;
        }
    }
    if (p != end)
        return dfs_facts_free(f), NULL;
    return f;
}

/* The child of parent with key; a new one takes the level's fields. */
static guint find_or_add(DfsIndex *idx, guint parent, DfsLevel level, const char *key,
                         DfsFacts *facts)
{
    g_autofree char *full = g_strdup_printf("%u\x1f%s", parent, key);
    gpointer found;
    if (g_hash_table_lookup_extended(idx->by_key, full, NULL, &found))
        return GPOINTER_TO_UINT(found);
    Node *n = g_new0(Node, 1);
    n->key = g_strdup(key);
    n->level = (guint8)level;
    n->parent = parent;
    n->fields = g_steal_pointer(&facts->fields[level]);
    n->children = g_array_new(FALSE, FALSE, sizeof(guint32));
    guint id = idx->nodes->len;
    g_ptr_array_add(idx->nodes, n);
    g_array_append_val(node(idx, parent)->children, id);
    g_hash_table_insert(idx->by_key, g_steal_pointer(&full), GUINT_TO_POINTER(id));
    return id;
}

static char *patient_key(const DfsFacts *f)
{
    char **p = f->fields[DFS_LEVEL_PATIENT];
    if (p[P_ID][0])
        return g_strdup_printf("id\x1f%s\x1f%s", p[P_ID], p[P_ISSUER]);
    return g_strdup_printf("name\x1f%s", p[P_NAME]);
}

/* A UID, or the file's path where it is missing (so it merges nothing). */
static char *uid_key(const char *uid, const char *relpath)
{
    return uid[0] ? g_strdup_printf("uid\x1f%s", uid) : g_strdup_printf("file\x1f%s", relpath);
}

static void note_duplicate(DfsIndex *idx, const char *relpath, const char *uid)
{
    if (uid[0] == '\0')
        return;
    const char *first = g_hash_table_lookup(idx->sop_uids, uid);
    if (first == NULL) {
        g_hash_table_insert(idx->sop_uids, g_strdup(uid), g_strdup(relpath));
        return;
    }
    Skip s = {g_strdup(relpath),
              g_strdup_printf("duplicate SOP Instance UID, also in %s (both are shown)", first)};
    g_array_append_val(idx->skips, s);
}

guint dfs_index_add_facts(DfsIndex *idx, const char *relpath, const struct stat *st,
                          DfsFacts *facts)
{
    if (facts->dicomdir) {
        dfs_index_skip(idx, relpath, "DICOMDIR (a media directory, not an instance)");
        dfs_facts_free(facts);
        return DFS_NO_INDEX;
    }
    g_autofree char *pk = patient_key(facts);
    g_autofree char *stk = uid_key(facts->fields[DFS_LEVEL_STUDY][ST_UID], relpath);
    g_autofree char *sek = uid_key(facts->fields[DFS_LEVEL_SERIES][SE_UID], relpath);
    guint patient = find_or_add(idx, DFS_INDEX_ROOT, DFS_LEVEL_PATIENT, pk, facts);
    guint study = find_or_add(idx, patient, DFS_LEVEL_STUDY, stk, facts);
    guint series = find_or_add(idx, study, DFS_LEVEL_SERIES, sek, facts);
    Node *n = g_new0(Node, 1);
    /* Same-named instances are told apart in SOP Instance UID order. */
    n->key = g_strdup_printf("%s\x1f%s", facts->fields[DFS_LEVEL_INSTANCE][IN_UID], relpath);
    n->level = DFS_LEVEL_INSTANCE;
    n->parent = series;
    n->fields = g_steal_pointer(&facts->fields[DFS_LEVEL_INSTANCE]);
    n->relpath = g_strdup(relpath);
    n->size = (guint64)st->st_size;
    n->mtime = st->st_mtim;
    guint id = idx->nodes->len;
    g_ptr_array_add(idx->nodes, n);
    g_array_append_val(node(idx, series)->children, id);
    idx->n_instances++;
    note_duplicate(idx, relpath, n->fields[IN_UID]);
    dfs_facts_free(facts);
    return id;
}

guint dfs_index_add(DfsIndex *idx, const char *relpath, const struct stat *st,
                    const DfsDataset *ds)
{
    return dfs_index_add_facts(idx, relpath, st, dfs_facts_new(ds));
}

void dfs_index_skip(DfsIndex *idx, const char *relpath, const char *reason)
{
    Skip s = {g_strdup(relpath), g_strdup(reason)};
    g_array_append_val(idx->skips, s);
    idx->n_skipped++;
}

/* --- names ---------------------------------------------------------------- */

static char *child_name(const Node *c, guint width)
{
    char **f = c->fields;
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
static guint number_width(DfsIndex *idx, const GArray *children)
{
    guint width = 1;
    for (guint k = 0; k < children->len; k++) {
        const Node *c = node(idx, g_array_index(children, guint32, k));
        int col = c->level == DFS_LEVEL_SERIES ? SE_NUMBER : IN_NUMBER;
        if (c->level == DFS_LEVEL_SERIES || c->level == DFS_LEVEL_INSTANCE)
            width = MAX(width, dfs_name_number_width(c->fields[col]));
    }
    return width;
}

static int by_child_name(gconstpointer a, gconstpointer b, gpointer user)
{
    DfsIndex *idx = user;
    return strcmp(node(idx, *(const guint32 *)a)->name, node(idx, *(const guint32 *)b)->name);
}

static void name_children(DfsIndex *idx, Node *parent)
{
    GArray *ch = parent->children;
    guint n = ch->len, width = number_width(idx, ch);
    g_autofree char **names = g_new(char *, n);
    g_autofree const char **keys = g_new(const char *, n);
    for (guint k = 0; k < n; k++) {
        Node *c = node(idx, g_array_index(ch, guint32, k));
        names[k] = child_name(c, width);
        keys[k] = c->key;
    }
    dfs_names_make_unique(names, keys, n);
    for (guint k = 0; k < n; k++) {
        Node *c = node(idx, g_array_index(ch, guint32, k));
        g_free(c->name);
        c->name = names[k];
    }
    g_array_sort_with_data(ch, by_child_name, idx);
}

void dfs_index_finish(DfsIndex *idx)
{
    for (guint k = 0; k < idx->nodes->len; k++) {
        Node *n = node(idx, k);
        if (n->children != NULL && n->children->len > 0)
            name_children(idx, n);
    }
    g_clear_pointer(&idx->by_key, g_hash_table_unref);
    g_clear_pointer(&idx->sop_uids, g_hash_table_unref);
}

/* --- reading -------------------------------------------------------------- */

guint dfs_index_n_nodes(const DfsIndex *idx)
{
    return idx->nodes->len;
}

DfsLevel dfs_index_level(const DfsIndex *idx, guint id)
{
    return (DfsLevel)node(idx, id)->level;
}

const char *dfs_index_name(const DfsIndex *idx, guint id)
{
    return node(idx, id)->name;
}

guint dfs_index_parent(const DfsIndex *idx, guint id)
{
    return node(idx, id)->parent;
}

const guint32 *dfs_index_children(const DfsIndex *idx, guint id, guint *n)
{
    const GArray *ch = node(idx, id)->children;
    *n = ch ? ch->len : 0;
    return ch ? (const guint32 *)ch->data : NULL;
}

guint dfs_index_lookup(const DfsIndex *idx, guint id, const char *name)
{
    guint n;
    const guint32 *ch = dfs_index_children(idx, id, &n);
    guint lo = 0, hi = n;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        int r = strcmp(node(idx, ch[mid])->name, name);
        if (r == 0)
            return ch[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return DFS_NO_INDEX;
}

guint dfs_index_first_instance(const DfsIndex *idx, guint id)
{
    while (node(idx, id)->level != DFS_LEVEL_INSTANCE) {
        const GArray *ch = node(idx, id)->children;
        if (ch == NULL || ch->len == 0)
            return DFS_NO_INDEX;
        id = g_array_index(ch, guint32, 0);
    }
    return id;
}

const char *dfs_index_relpath(const DfsIndex *idx, guint id)
{
    return node(idx, id)->relpath;
}

guint64 dfs_index_size(const DfsIndex *idx, guint id)
{
    return node(idx, id)->size;
}

const struct timespec *dfs_index_mtime(const DfsIndex *idx, guint id)
{
    return &node(idx, id)->mtime;
}

char *dfs_index_path(const DfsIndex *idx, guint id)
{
    GPtrArray *parts = g_ptr_array_new();
    for (; id != DFS_INDEX_ROOT; id = node(idx, id)->parent)
        g_ptr_array_insert(parts, 0, node(idx, id)->name);
    g_ptr_array_add(parts, NULL);
    char *path = g_strjoinv("/", (char **)parts->pdata);
    g_ptr_array_free(parts, TRUE);
    return path;
}

guint dfs_index_n_skipped(const DfsIndex *idx)
{
    return idx->n_skipped;
}

guint dfs_index_n_instances(const DfsIndex *idx)
{
    return idx->n_instances;
}

/* --- the .tsv tables ------------------------------------------------------ */

/* A cell: tabs and line breaks would break the table, so they become spaces. */
static void cell_text(GString *out, const char *v)
{
    for (const char *p = v; *p; p++)
        g_string_append_c(out, (*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p);
}

static void cell(GString *out, const char *v)
{
    g_string_append_c(out, '\t');
    cell_text(out, v);
}

void dfs_index_write_tsv(const DfsIndex *idx, DfsLevel level, GString *out)
{
    const Column *cols = level_cols[level];
    g_string_append(out, "path");
    for (guint c = 0; cols[c].column; c++)
        cell(out, cols[c].column);
    if (level == DFS_LEVEL_INSTANCE)
        g_string_append(out, "\tSourcePath\tSourceSize");
    g_string_append_c(out, '\n');
    for (guint k = 1; k < idx->nodes->len; k++) {
        const Node *n = node(idx, k);
        if (n->level != level)
            continue;
        g_autofree char *path = dfs_index_path(idx, k);
        g_string_append(out, path);
        for (guint c = 0; cols[c].column; c++)
            cell(out, n->fields[c]);
        if (level == DFS_LEVEL_INSTANCE) {
            cell(out, n->relpath);
            g_string_append_printf(out, "\t%" G_GUINT64_FORMAT, n->size);
        }
        g_string_append_c(out, '\n');
    }
}

void dfs_index_write_skips(const DfsIndex *idx, GString *out)
{
    g_string_append(out, "path\treason\n");
    for (guint k = 0; k < idx->skips->len; k++) {
        const Skip *s = &g_array_index(idx->skips, Skip, k);
        cell_text(out, s->relpath);
        cell(out, s->reason);
        g_string_append_c(out, '\n');
    }
}
