/* dicomfs core: the tables by range.  See tables.h. */
#include "catalog/tables.h"

#include <string.h>

#include "catalog/index-private.h"

#define TABLE_CHUNK_ROWS 64

/* --- rows ----------------------------------------------------------------- */

static void write_header(DfsIndexTable table, GString *out)
{
    if (table == DFS_TABLE_ERRORS) {
        g_string_append(out, "path\treason\n");
        return;
    }
    DfsLevel level = (DfsLevel)table;
    g_string_append(out, "path");
    for (guint c = 0; c < dfs_index_n_columns(level); c++) {
        g_string_append_c(out, '\t');
        g_string_append(out, dfs_index_column(level, c));
    }
    if (level == DFS_LEVEL_INSTANCE)
        g_string_append(out, "\tSourcePath\tSourceSize");
    g_string_append_c(out, '\n');
}

/* The first row numbered from or later, or DFS_NO_INDEX.  A table's rows
 * are numbered by what they show (a node, or a skip); numbers of other
 * things are skipped over. */
static guint next_row(const DfsIndex *idx, DfsIndexTable table, guint from)
{
    if (table == DFS_TABLE_ERRORS)
        return from < dfs_index_n_skips(idx) ? from : DFS_NO_INDEX;
    guint n = dfs_index_n_nodes(idx);
    for (guint k = MAX(from, 1u); k < n; k++)
        if (dfs_index_is_live(idx, k) && dfs_index_level(idx, k) == (DfsLevel)table)
            return k;
    return DFS_NO_INDEX;
}

static void cell(GString *out, const char *v)
{
    g_string_append_c(out, '\t');
    dfs_index_cell_text(out, v);
}

/* The nodes from the patient down to id: their number. */
static guint path_chain(const DfsIndex *idx, guint id, guint chain[DFS_LEVEL_INSTANCE])
{
    guint n = 0;
    for (; id != DFS_INDEX_ROOT && n < DFS_LEVEL_INSTANCE; id = dfs_index_parent(idx, id))
        chain[n++] = id;
    return n;
}

static void write_row(const DfsIndex *idx, DfsIndexTable table, guint row, GString *out)
{
    if (table == DFS_TABLE_ERRORS) {
        DfsIndexSkip s;
        dfs_index_skip(idx, row, &s);
        dfs_index_cell_text(out, s.relpath);
        cell(out, s.reason);
        g_string_append_c(out, '\n');
        return;
    }
    guint chain[DFS_LEVEL_INSTANCE], n = path_chain(idx, row, chain);
    while (n > 0) {
        g_string_append(out, dfs_index_name(idx, chain[--n]));
        if (n > 0)
            g_string_append_c(out, '/');
    }
    DfsLevel level = (DfsLevel)table;
    for (guint c = 0; c < dfs_index_n_columns(level); c++)
        cell(out, dfs_index_field(idx, row, c));
    if (level == DFS_LEVEL_INSTANCE) {
        cell(out, dfs_index_relpath(idx, row));
        g_string_append_printf(out, "\t%" G_GUINT64_FORMAT, dfs_index_size(idx, row));
    }
    g_string_append_c(out, '\n');
}

static gsize digits(guint64 v)
{
    gsize n = 1;
    while ((v /= 10) != 0)
        n++;
    return n;
}

/* What write_row appends, counted without writing (a few times cheaper): a
 * cell's text keeps its length (only tabs and line breaks change, to
 * spaces). */
static gsize row_length(const DfsIndex *idx, DfsIndexTable table, guint row)
{
    if (table == DFS_TABLE_ERRORS) {
        DfsIndexSkip s;
        dfs_index_skip(idx, row, &s);
        return strlen(s.relpath) + 1 + strlen(s.reason) + 1;
    }
    guint chain[DFS_LEVEL_INSTANCE], n = path_chain(idx, row, chain);
    gsize len = 0;
    for (guint k = 0; k < n; k++)
        len += strlen(dfs_index_name(idx, chain[k])) + 1; /* the name and a '/' or the first tab */
    DfsLevel level = (DfsLevel)table;
    for (guint c = 0; c < dfs_index_n_columns(level); c++)
        len += 1 + strlen(dfs_index_field(idx, row, c));
    if (level == DFS_LEVEL_INSTANCE)
        len += 1 + strlen(dfs_index_relpath(idx, row)) + 1 + digits(dfs_index_size(idx, row));
    return len; /* the path's last separator stands for the line's end */
}

/* --- the layout and reads by range ---------------------------------------- */

typedef struct {
    guint64 size;
    guint64 header;     /* the header row's length */
    GArray *first_row;  /* guint: the first row of each chunk */
    GArray *offset;     /* guint64: where it starts */
} Layout;

static void layout_free(gpointer p)
{
    Layout *l = p;
    g_array_unref(l->first_row);
    g_array_unref(l->offset);
    g_free(l);
}

static Layout *layout_new(void)
{
    Layout *l = g_new0(Layout, 1);
    l->first_row = g_array_new(FALSE, FALSE, sizeof(guint));
    l->offset = g_array_new(FALSE, FALSE, sizeof(guint64));
    return l;
}

/* --- layouts kept in an image ----------------------------------------------
 *
 * Per table: its size, its header's length and its chunk count (three
 * guint64), then each chunk's first row (guint32, padded to 8 bytes) and
 * offset (guint64).  Rows are read back only after every number is
 * checked: a damaged image must not make a read reach past the index. */

static const Layout *layout_of(const DfsIndex *idx, DfsIndexTable table);

void dfs_table_export(const DfsIndex *idx, const guint32 *map, GByteArray *out)
{
    static const guint8 zeros[8];
    for (guint t = 0; t < DFS_TABLE_N; t++) {
        const Layout *l = layout_of(idx, (DfsIndexTable)t);
        guint64 head[3] = {l->size, l->header, l->first_row->len};
        g_byte_array_append(out, (const guint8 *)head, sizeof head);
        for (guint c = 0; c < l->first_row->len; c++) {
            guint32 r = g_array_index(l->first_row, guint, c);
            if (t != DFS_TABLE_ERRORS)
                r = map[r];
            g_byte_array_append(out, (const guint8 *)&r, sizeof r);
        }
        g_byte_array_append(out, zeros, (8 - out->len % 8) % 8);
        g_byte_array_append(out, (const guint8 *)l->offset->data,
                            l->offset->len * sizeof(guint64));
    }
}

/* Table t's layout from a flat index's image, or NULL. */
static Layout *import(const DfsIndex *idx, DfsIndexTable t)
{
    const DfsImageView *v = dfs_index_flat_view(idx);
    if (v == NULL || v->tables == NULL)
        return NULL;
    gsize at = 0, len = v->n_tables;
    guint rows = t == DFS_TABLE_ERRORS ? dfs_index_n_skips(idx) : dfs_index_n_nodes(idx);
    for (guint k = 0; k <= (guint)t; k++) {
        guint64 head[3];
        if (len - at < sizeof head)
            return NULL;
        memcpy(head, v->tables + at, sizeof head);
        at += sizeof head;
        guint64 n = head[2], ids = (n * sizeof(guint32) + 7) / 8 * 8;
        if (n > len || (len - at) / 12 < n || ids + n * sizeof(guint64) > len - at)
            return NULL;
        if (k < (guint)t) {
            at += ids + n * sizeof(guint64);
            continue;
        }
        Layout *l = layout_new();
        l->size = head[0];
        l->header = head[1];
        g_array_set_size(l->first_row, (guint)n);
        g_array_set_size(l->offset, (guint)n);
        if (n > 0) {
            memcpy(l->first_row->data, v->tables + at, n * sizeof(guint32));
            memcpy(l->offset->data, v->tables + at + ids, n * sizeof(guint64));
        }
        gboolean ok = l->header <= l->size;
        for (guint c = 0; c < n && ok; c++)
            ok = g_array_index(l->first_row, guint, c) < rows &&
                 g_array_index(l->offset, guint64, c) <= l->size &&
                 (c == 0 ? g_array_index(l->offset, guint64, c) >= l->header
                         : g_array_index(l->offset, guint64, c) >
                               g_array_index(l->offset, guint64, c - 1));
        if (ok)
            return l;
        layout_free(l);
        return NULL;
    }
    return NULL;
}

static const Layout *layout_of(const DfsIndex *idx, DfsIndexTable table)
{
    const Layout *done = dfs_index_get_extra(idx, table);
    if (done != NULL)
        return done;
    Layout *l = import(idx, table);
    if (l != NULL)
        return dfs_index_set_extra(idx, table, l, layout_free);
    l = layout_new();
    GString *header = g_string_sized_new(256);
    write_header(table, header);
    l->header = l->size = header->len;
    g_string_free(header, TRUE);
    guint n = 0;
    for (guint r = next_row(idx, table, 0); r != DFS_NO_INDEX;
         r = next_row(idx, table, r + 1), n++) {
        if (n % TABLE_CHUNK_ROWS == 0) {
            g_array_append_val(l->first_row, r);
            g_array_append_val(l->offset, l->size);
        }
        l->size += row_length(idx, table, r); /* measured, not written */
    }
    return dfs_index_set_extra(idx, table, l, layout_free);
}

guint64 dfs_table_size(const DfsIndex *idx, DfsIndexTable table)
{
    return layout_of(idx, table)->size;
}

/* Append the part of [pos, pos + len(text)) that falls in [from, to). */
static void overlap(GString *out, const GString *text, guint64 pos, guint64 from, guint64 to)
{
    guint64 end = pos + text->len;
    if (end <= from || pos >= to)
        return;
    guint64 a = MAX(pos, from), b = MIN(end, to);
    g_string_append_len(out, text->str + (a - pos), (gssize)(b - a));
}

/* The last chunk that starts at or before offset (0 if none does). */
static guint chunk_at(const Layout *l, guint64 offset)
{
    guint lo = 0, hi = l->offset->len; /* the answer is in [lo, hi) */
    while (hi - lo > 1) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(l->offset, guint64, mid) <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void dfs_table_read(const DfsIndex *idx, DfsIndexTable table, guint64 offset, gsize length,
                    GString *out, guint64 *rendered)
{
    const Layout *l = layout_of(idx, table);
    guint64 to = offset + MIN((guint64)length, l->size - MIN(offset, l->size));
    if (offset >= to)
        return;
    GString *row = g_string_sized_new(512);
    if (offset < l->header) {
        write_header(table, row);
        overlap(out, row, 0, offset, to);
    }
    if (l->first_row->len > 0 && to > l->header) {
        guint c = chunk_at(l, offset);
        guint64 pos = g_array_index(l->offset, guint64, c);
        for (guint r = g_array_index(l->first_row, guint, c); r != DFS_NO_INDEX && pos < to;
             r = next_row(idx, table, r + 1)) {
            g_string_truncate(row, 0);
            write_row(idx, table, r, row);
            overlap(out, row, pos, offset, to);
            pos += row->len;
            *rendered += row->len;
        }
    }
    g_string_free(row, TRUE);
}
