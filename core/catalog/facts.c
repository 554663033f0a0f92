/* dicomfs core: what the index needs from one file (its facts), and the
 * facts as bytes for the persistent store.  See index.h. */
#include "catalog/index.h"
#include "catalog/index-private.h"

#include <string.h>

#include "dicom/render.h"
#include "dicom/tags.h"

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

/* The columns in use: each level's defaults, then the extra columns the
 * name templates ask for (dfs_facts_add_column, before any facts are made). */
static Column columns[DFS_LEVEL_INSTANCE + 1][FACTS_MAX_COLUMNS];
static guint level_n_cols[DFS_LEVEL_INSTANCE + 1];
static gboolean rendered_col[DFS_LEVEL_INSTANCE + 1][FACTS_MAX_COLUMNS]; /* value as tags/ shows it */

static void columns_init(void)
{
    static gsize done = 0;
    if (!g_once_init_enter(&done))
        return;
    static const Column *const defaults[] = {NULL, patient_cols, study_cols, series_cols,
                                             instance_cols};
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++)
        for (const Column *c = defaults[l]; c->column != NULL; c++)
            columns[l][level_n_cols[l]++] = *c;
    g_once_init_leave(&done, 1);
}

/* Every level's columns and its NULL row fit DfsFacts' slots. */
G_STATIC_ASSERT((DFS_LEVEL_INSTANCE) * (FACTS_MAX_COLUMNS + 1) <= FACTS_SLOTS);

static guint n_columns(DfsLevel level)
{
    columns_init();
    return level_n_cols[level];
}

gint dfs_facts_add_column(DfsLevel level, guint32 tag, const char *keyword)
{
    columns_init();
    g_return_val_if_fail(level >= DFS_LEVEL_PATIENT && level <= DFS_LEVEL_INSTANCE, -1);
    for (guint k = 0; k < level_n_cols[level]; k++)
        if (columns[level][k].tag == tag)
            return (gint)k;
    if (level_n_cols[level] >= FACTS_MAX_COLUMNS)
        return -1;
    guint k = level_n_cols[level]++;
    columns[level][k] = (Column){g_intern_string(keyword), tag};
    rendered_col[level][k] = TRUE;
    return (gint)k;
}

/* Facts with room for `text` bytes of text; fields[l] point into slots,
 * every one at "" (the first byte of text, set to NUL) until set. */
static DfsFacts *facts_alloc(gsize text)
{
    DfsFacts *f = g_malloc(sizeof(DfsFacts) + MAX(text, 1));
    f->dicomdir = FALSE;
    f->folder = 0;
    f->fields[0] = NULL;
    f->text[0] = '\0';
    guint slot = 0;
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        guint n = n_columns((DfsLevel)l);
        f->fields[l] = &f->slots[slot];
        for (guint k = 0; k < n; k++)
            f->slots[slot++] = f->text;
        f->slots[slot++] = NULL;
    }
    return f;
}

static void pool_free(gpointer p)
{
    g_string_free(p, TRUE);
}

/* Each thread's pool where facts are gathered before their one copy. */
static GPrivate facts_pool = G_PRIVATE_INIT(pool_free);

/* Appends element tag's text and a NUL to pool; FALSE (and nothing
 * appended) when the dataset has no such text element. */
static gboolean append_field(GString *pool, const DfsDataset *ds, guint32 tag)
{
    if (!dfs_dataset_append_string(ds, DFS_ROOT, tag, pool))
        return FALSE;
    g_string_append_c(pool, '\0');
    return TRUE;
}

/* The same with the value as its tags/ file shows it (any VR but
 * sequences; one line: control characters escaped). */
static gboolean append_rendered(GString *pool, const DfsDataset *ds, guint32 tag)
{
    guint i = dfs_dataset_find(ds, DFS_ROOT, tag);
    if (i == DFS_NO_INDEX)
        return FALSE;
    gsize at = pool->len;
    dfs_render_value(ds, i, DFS_RENDER_ESCAPE, pool);
    if (pool->len == at)
        return FALSE;
    g_string_append_c(pool, '\0');
    return TRUE;
}

static gboolean is_dicomdir(const DfsDataset *ds, GString *scratch)
{
    gsize start = scratch->len;
    gboolean media = append_field(scratch, ds, DFS_TAG_MEDIA_STORAGE_SOP_CLASS_UID) &&
                     strcmp(scratch->str + start, "1.2.840.10008.1.3.10") == 0;
    g_string_truncate(scratch, start);
    return media || dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_DIRECTORY_RECORD_SEQUENCE) != DFS_NO_INDEX;
}

/* Every field's text goes into the thread's pool, NUL after each (a missing
 * element is an empty field), then into the facts' one block. */
static DfsFacts *facts_new(const DfsDataset *ds, gboolean detected_syntax);

DfsFacts *dfs_facts_new(const DfsDataset *ds)
{
    return facts_new(ds, TRUE);
}

DfsFacts *dfs_facts_new_described(const DfsDataset *ds)
{
    return facts_new(ds, FALSE);
}

guint dfs_facts_tags(DfsLevel level, guint32 *tags, guint max)
{
    guint n = level >= DFS_LEVEL_PATIENT && level <= DFS_LEVEL_INSTANCE ? n_columns(level) : 0;
    for (guint k = 0; k < n && k < max; k++)
        tags[k] = columns[level][k].tag;
    return n;
}

static DfsFacts *facts_new(const DfsDataset *ds, gboolean detected_syntax)
{
    GString *pool = g_private_get(&facts_pool);
    if (pool == NULL)
        g_private_set(&facts_pool, pool = g_string_sized_new(1024));
    g_string_truncate(pool, 0);
    g_string_append_c(pool, '\0'); /* offset 0: the empty field */
    gboolean dicomdir = is_dicomdir(ds, pool);
    gsize offsets[DFS_LEVEL_INSTANCE + 1][FACTS_MAX_COLUMNS];
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++)
        for (guint k = 0, n = n_columns((DfsLevel)l); k < n; k++) {
            gsize at = pool->len;
            gboolean got = rendered_col[l][k] ? append_rendered(pool, ds, columns[l][k].tag)
                                              : append_field(pool, ds, columns[l][k].tag);
            offsets[l][k] = got ? at : 0;
        }
    /* Without File Meta Information the syntax is the one detected. */
    gsize *ts = &offsets[DFS_LEVEL_INSTANCE][IN_TS];
    if (!detected_syntax) /* a described header's syntax is not the instance's */
        *ts = 0;
    else if (pool->str[*ts] == '\0') {
        *ts = pool->len;
        g_string_append_len(pool, dfs_dataset_transfer_syntax(ds),
                            (gssize)strlen(dfs_dataset_transfer_syntax(ds)) + 1);
    }
    DfsFacts *f = facts_alloc(pool->len);
    f->dicomdir = dicomdir;
    memcpy(f->text, pool->str, pool->len);
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++)
        for (guint k = 0, n = n_columns((DfsLevel)l); k < n; k++)
            f->fields[l][k] = f->text + offsets[l][k];
    if (pool->allocated_len > 64 * 1024) /* a huge header's: not kept */
        g_private_replace(&facts_pool, g_string_sized_new(1024));
    return f;
}

void dfs_facts_mark_folder(DfsFacts *f, DfsLevel level)
{
    g_return_if_fail(level == DFS_LEVEL_STUDY || level == DFS_LEVEL_SERIES);
    f->folder = (guint8)level;
}

gboolean dfs_facts_is_folder(const DfsFacts *f)
{
    return f->folder != 0;
}

void dfs_facts_free(DfsFacts *f)
{
    g_free(f);
}

/* v in decimal, then stop, into buf; returns the length. */
static gssize decimal(char buf[24], gsize v, char stop)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (int k = 0; k < n; k++)
        buf[k] = tmp[n - 1 - k];
    buf[n] = stop;
    return n + 1;
}

/* "D" for a DICOMDIR, "F" for a study's folder, "S" for a series', "-" for
 * an instance, then per level the field count and each
 * field as "<length>:<bytes>": lengths make any byte in a value safe. */
void dfs_facts_serialize(const DfsFacts *f, GString *s)
{
    g_string_truncate(s, 0);
    g_string_append_c(s, f->dicomdir                          ? 'D'
                         : f->folder == DFS_LEVEL_STUDY      ? 'F'
                         : f->folder == DFS_LEVEL_SERIES     ? 'S'
                                                             : '-');
    char num[24];
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        guint n = g_strv_length(f->fields[l]);
        g_string_append_len(s, num, decimal(num, n, ';'));
        for (guint k = 0; k < n; k++) {
            gsize len = strlen(f->fields[l][k]);
            g_string_append_len(s, num, decimal(num, len, ':'));
            g_string_append_len(s, f->fields[l][k], (gssize)len);
        }
    }
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
    if (len < 1 || (*p != 'D' && *p != 'F' && *p != 'S' && *p != '-'))
        return NULL;
    /* No value is longer than the input, and each gets a NUL. */
    DfsFacts *f = facts_alloc(len + 32);
    f->dicomdir = *p == 'D';
    f->folder = *p == 'F' ? DFS_LEVEL_STUDY : *p == 'S' ? DFS_LEVEL_SERIES : 0;
    p++;
    char *q = f->text + 1, *qend = f->text + len + 32; /* text[0]: "" */
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        gsize n;
        if (!read_count(&p, end, ';', &n) || n != n_columns((DfsLevel)l))
            return dfs_facts_free(f), NULL;
        for (gsize k = 0; k < n; k++) {
            gsize flen;
            if (!read_count(&p, end, ':', &flen) || flen > (gsize)(end - p) ||
                flen + 1 > (gsize)(qend - q))
                return dfs_facts_free(f), NULL;
            memcpy(q, p, flen);
            q[flen] = '\0';
            f->fields[l][k] = q;
            q += flen + 1;
            p += flen;
        }
    }
    if (p != end)
        return dfs_facts_free(f), NULL;
    return f;
}

guint dfs_index_n_columns(DfsLevel level)
{
    return level >= DFS_LEVEL_PATIENT && level <= DFS_LEVEL_INSTANCE ? n_columns(level) : 0;
}

const char *dfs_index_column(DfsLevel level, guint k)
{
    return k < dfs_index_n_columns(level) ? columns[level][k].column : NULL;
}
