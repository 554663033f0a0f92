/* dicomfs core: tags/ folders and the attribute files and folders in them.
 *
 * tags/ of an instance shows every top-level element but Pixel Data; tags/
 * of a patient, study or series the elements of that level (levels.h), from
 * its first instance.  Sequences are folders of numbered items, items
 * folders of elements.  An attribute entry's sub is the element's index in
 * the header-only dataset (below 2^24: DFS_LIMIT_ELEMENTS).  A listing
 * walks the one folder's elements of the cached header; a lookup compares
 * their tags with the name's (a keyword or 8 hex digits); a value
 * renders in well under a microsecond from it, so values are not cached
 * (DFS_KIND_UNCACHED).  Each attribute file and sequence folder carries the
 * element's tag, VR, VM, keyword, dictionary name and private creator as
 * extended attributes (user.dicom.*), pydicom's data element in a file. */
#include "tree/kind.h"

#include <string.h>

#include "catalog/levels.h"
#include "dicom/dict.h"
#include "dicom/render.h"
#include "dicom/tags.h"
#include "dicom/value.h"
#include "tree/instance.h"

/* Is top-level element i shown in the tags/ of a node of this level? */
static gboolean shown_at(const DfsDataset *ds, guint i, DfsLevel level)
{
    guint32 tag = dfs_dataset_element(ds, i)->tag;
    if (tag == DFS_TAG_PIXEL_DATA)
        return FALSE; /* pixels get their own files */
    if (level == DFS_LEVEL_INSTANCE)
        return TRUE;
    return dfs_level_has_tag(level, tag);
}

/* The entries inside attribute folder `parent` (DFS_ROOT for tags/ itself):
 * calls fn(i) for each shown element index, in order, until it says stop. */
typedef gboolean (*EachFunc)(const DfsDataset *ds, guint i, guint position, gpointer user);

static void each_attr(const DfsDataset *ds, guint parent, DfsLevel level, EachFunc fn,
                      gpointer user)
{
    guint first = parent == DFS_ROOT ? 0 : parent + 1;
    guint end = parent == DFS_ROOT ? dfs_dataset_n_elements(ds)
                                   : dfs_dataset_element(ds, parent)->end;
    guint pos = 0;
    guint32 last = 0;
    g_autoptr(GHashTable) seen = NULL; /* tags met, once they come out of order */
    for (guint i = first; i < end; i = dfs_dataset_element(ds, i)->end) {
        if (parent == DFS_ROOT && !shown_at(ds, i, level))
            continue;
        guint32 tag = dfs_dataset_element(ds, i)->tag;
        if (tag != DFS_TAG_ITEM) {
            /* A tag repeated in a broken file: its first element only, so
             * that no name is listed twice. */
            if (seen == NULL && pos > 0 && tag <= last) {
                seen = g_hash_table_new(g_direct_hash, g_direct_equal);
                for (guint j = first; j < i; j = dfs_dataset_element(ds, j)->end)
                    g_hash_table_add(seen, GUINT_TO_POINTER(dfs_dataset_element(ds, j)->tag));
            }
            if (seen != NULL && !g_hash_table_add(seen, GUINT_TO_POINTER(tag)))
                continue;
            last = tag;
        }
        if (!fn(ds, i, pos++, user))
            return;
    }
}

/* The folder whose entries dir lists: DFS_ROOT for tags/, else an element. */
static guint parent_of(DfsEntry dir)
{
    return DFS_ENTRY_KIND(dir) == DFS_KIND_TAGS ? DFS_ROOT : DFS_ENTRY_SUB(dir);
}

/* Call fn for the entries of attribute folder dir, on the node's header. */
static gboolean each_in(const DfsView *v, DfsEntry dir, EachFunc fn, gpointer user,
                        GError **error)
{
    guint node = DFS_ENTRY_NODE(dir), parent = parent_of(dir);
    DfsDataset *ds = dfs_instance_dataset(v, node, error);
    if (ds == NULL)
        return FALSE;
    if (parent == DFS_ROOT || parent < dfs_dataset_n_elements(ds))
        each_attr(ds, parent, dfs_index_level(v->idx, node), fn, user);
    dfs_dataset_free(ds);
    return TRUE;
}

/* Name of attribute entry i: item number within its sequence, or the
 * element's keyword (8 hex digits for private and unknown tags). */
static void attr_name(const DfsDataset *ds, guint i, guint position, char buf[64])
{
    if (dfs_dataset_element(ds, i)->tag == DFS_TAG_ITEM)
        g_snprintf(buf, 64, "%u", position + 1);
    else
        dfs_render_name(ds, i, buf);
}

static gboolean is_folder(const DfsElement *el)
{
    return el->vr == DFS_VR_SQ || el->tag == DFS_TAG_ITEM;
}

/* --- lookup ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    guint found;
} FindCtx;

static gboolean find_by_name(const DfsDataset *ds, guint i, guint position, gpointer user)
{
    FindCtx *c = user;
    char buf[64];
    attr_name(ds, i, position, buf);
    if (strcmp(buf, c->name) == 0) {
        c->found = i;
        return FALSE;
    }
    /* Every public tag also opens by its 8 hex digits. */
    g_snprintf(buf, sizeof buf, "%08X", dfs_dataset_element(ds, i)->tag);
    if (dfs_dataset_element(ds, i)->tag != DFS_TAG_ITEM && g_ascii_strcasecmp(buf, c->name) == 0) {
        c->found = i;
        return FALSE;
    }
    return TRUE;
}

/* The tag a name would be of: 8 hex digits, or a keyword of the
 * dictionary.  FALSE for item numbers and anything else. */
static gboolean tag_of_name(const char *name, guint32 *tag)
{
    if (strlen(name) == 8 && strspn(name, "0123456789abcdefABCDEF") == 8) {
        *tag = (guint32)g_ascii_strtoull(name, NULL, 16);
        return TRUE;
    }
    const DfsDictEntry *d = dfs_dict_lookup_keyword(name);
    if (d == NULL)
        return FALSE;
    *tag = d->tag;
    return TRUE;
}

typedef struct {
    FindCtx find;
    guint32 tag;
} FindTagCtx;

/* Only elements of the tag are named and compared: a lookup in a folder of
 * n attributes costs n integer compares, not n names rendered. */
static gboolean find_by_tag(const DfsDataset *ds, guint i, guint position, gpointer user)
{
    FindTagCtx *c = user;
    if (dfs_dataset_element(ds, i)->tag != c->tag)
        return TRUE;
    return find_by_name(ds, i, position, &c->find);
}

static gboolean attr_lookup(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                            GError **error)
{
    FindCtx c = {name, DFS_NO_INDEX};
    FindTagCtx t = {{name, DFS_NO_INDEX}, 0};
    if (tag_of_name(name, &t.tag)) {
        if (!each_in(v, dir, find_by_tag, &t, error))
            return FALSE;
        c.found = t.find.found;
    }
    /* Else, or not found so (a keyword of a repeating group names every
     * group's element): every name compared. */
    if (c.found == DFS_NO_INDEX && !each_in(v, dir, find_by_name, &c, error))
        return FALSE;
    if (c.found == DFS_NO_INDEX)
        return dfs_view_not_found(error, name);
    *out = DFS_ENTRY_MAKE(DFS_KIND_ATTR, DFS_ENTRY_NODE(dir), c.found);
    return TRUE;
}

/* --- listing ------------------------------------------------------------------ */

typedef struct {
    DfsLister *l;
    guint node;
} ListCtx;

static gboolean list_one(const DfsDataset *ds, guint i, guint position, gpointer user)
{
    ListCtx *c = user;
    char name[64];
    attr_name(ds, i, position, name);
    return dfs_lister_emit(c->l, position, name, DFS_ENTRY_MAKE(DFS_KIND_ATTR, c->node, i),
                           is_folder(dfs_dataset_element(ds, i)));
}

static gboolean attr_list(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error)
{
    ListCtx c = {l, DFS_ENTRY_NODE(dir)};
    return each_in(v, dir, list_one, &c, error);
}

/* --- an attribute: a file of its value, or a folder ----------------------------- */

static gboolean attr_is_dir(const DfsView *v, DfsEntry e, gboolean *is_dir, GError **error)
{
    DfsDataset *ds = dfs_instance_dataset(v, DFS_ENTRY_NODE(e), error);
    if (ds == NULL)
        return FALSE;
    gboolean ok = DFS_ENTRY_SUB(e) < dfs_dataset_n_elements(ds);
    if (ok)
        *is_dir = is_folder(dfs_dataset_element(ds, DFS_ENTRY_SUB(e)));
    dfs_dataset_free(ds);
    return ok ? TRUE : dfs_view_not_found(error, "attribute");
}

static gboolean attr_render(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    DfsDataset *ds = dfs_instance_dataset(v, DFS_ENTRY_NODE(e), error);
    if (ds == NULL)
        return FALSE;
    if (DFS_ENTRY_SUB(e) < dfs_dataset_n_elements(ds)) {
        dfs_render_value(ds, DFS_ENTRY_SUB(e), DFS_RENDER_DEFAULT, out);
        g_string_append_c(out, '\n');
    }
    dfs_dataset_free(ds);
    return TRUE;
}

/* --- the element's identity as extended attributes ------------------------------ */

/* VM as pydicom counts it: the values of a text or number, the items of a
 * sequence, 1 for a non-empty value of a byte VR. */
static guint vm_of(const DfsDataset *ds, guint i)
{
    const DfsElement *el = dfs_dataset_element(ds, i);
    switch (el->vr) {
    case DFS_VR_OB: case DFS_VR_OD: case DFS_VR_OF: case DFS_VR_OL: case DFS_VR_OV:
    case DFS_VR_OW: case DFS_VR_UN:
        return el->length > 0 ? 1 : 0;
    default:
        return dfs_value_count(ds, i);
    }
}

static void add(GPtrArray *names, GPtrArray *values, const char *name, char *value)
{
    g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_add(values, value);
}

static gboolean attr_xattrs(const DfsView *v, DfsEntry e, GPtrArray *names, GPtrArray *values,
                            GError **error)
{
    DfsDataset *ds = dfs_instance_dataset(v, DFS_ENTRY_NODE(e), error);
    if (ds == NULL)
        return FALSE;
    guint i = DFS_ENTRY_SUB(e);
    const DfsElement *el = i < dfs_dataset_n_elements(ds) ? dfs_dataset_element(ds, i) : NULL;
    if (el != NULL && el->tag != DFS_TAG_ITEM) {
        guint32 tag = el->tag;
        add(names, values, "user.dicom.tag",
            g_strdup_printf("(%04X,%04X)", tag >> 16, tag & 0xFFFF));
        add(names, values, "user.dicom.vr", g_strdup(dfs_vr_name((DfsVr)el->vr)));
        add(names, values, "user.dicom.vm", g_strdup_printf("%u", vm_of(ds, i)));
        const char *creator = (tag >> 16) % 2 == 1 ? dfs_dataset_private_creator(ds, i) : NULL;
        const DfsDictEntry *d = (tag >> 16) % 2 == 1
                                    ? (creator ? dfs_dict_lookup_private(creator, tag) : NULL)
                                    : dfs_dict_lookup(tag);
        add(names, values, "user.dicom.keyword", g_strdup(d && d->keyword ? d->keyword : ""));
        /* the dictionary's name; private data without one: pydicom's words */
        const char *name = d != NULL                              ? d->name
                           : (tag >> 16) % 2 == 1 && (tag & 0xFF00) == 0 ? "Private Creator"
                           : (tag >> 16) % 2 == 1                   ? "Private tag data"
                                                                    : "";
        add(names, values, "user.dicom.name", g_strdup(name));
        if (creator != NULL)
            add(names, values, "user.dicom.creator", g_strdup(creator));
    }
    dfs_dataset_free(ds);
    return TRUE;
}

const DfsKind dfs_kind_tags = {
    .flags = DFS_KIND_DIR,
    .lookup = attr_lookup,
    .list = attr_list,
    .name = "tags",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_PATIENT) | DFS_LEVEL_MASK(DFS_LEVEL_STUDY) |
              DFS_LEVEL_MASK(DFS_LEVEL_SERIES) | DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
};

const DfsKind dfs_kind_attr = {
    .flags = DFS_KIND_UNCACHED,
    .lookup = attr_lookup,
    .list = attr_list,
    .is_dir = attr_is_dir,
    .render = attr_render,
    .xattrs = attr_xattrs,
};
