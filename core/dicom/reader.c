/* dicomfs core: the reader.  See reader.h.
 *
 * The parser is iterative: sequences and items push a frame on an explicit
 * stack bounded by DFS_LIMIT_DEPTH, so hostile nesting gives an error, never
 * a stack overflow.  Every length is checked against the data that is really
 * there before anything is allocated or skipped. */
#include "dicom/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "dicom/dataset-private.h"
#include "dicom/dict.h"
#include "base/error.h"
#include "dicom/limits.h"
#include "base/scratch.h"
#include "dicom/tags.h"

#define UNDEF_END G_MAXUINT64
#define PREAMBLE_LEN 128

typedef enum { FRAME_ROOT, FRAME_SEQ, FRAME_ITEM } FrameKind;

#define MAX_CREATORS 32

typedef struct {
    guint32 elem;   /* SQ or item element index; DFS_NO_INDEX for the root */
    guint64 end;    /* stream offset of its end, or UNDEF_END */
    guint8 kind;    /* FrameKind */
    guint8 implicit;
    guint8 big;
    /* Private creators of the current private group (PS3.5 7.8.1): block
     * xx and the index of the element reserving it, for creator_group only.
     * Groups rarely hold more than a few; past MAX_CREATORS the rest are
     * orphans (their elements read as UN in implicit VR). */
    guint16 creator_group;
    guint8 n_creators;
    guint8 creator_block[MAX_CREATORS];
    guint32 creator_text[MAX_CREATORS]; /* offset in ds->creator_text */
} Frame;

typedef struct {
    DfsDataset *ds;
    DfsInput *src;
    const guint8 *data; /* == dfs_input_data(src), refreshed after growth */
    guint64 pos;
    gboolean header_only;
    gboolean meta_only; /* stop when the group leaves 0002 */
    gboolean done;      /* reached top-level Pixel Data in header-only mode */
    guint16 pixel_rep;  /* (0028,0103), to resolve "US or SS" */
    guint32 last_top;   /* the tag of the last top-level element read */
    guint n_elems;      /* elements used in ds->elems (which grows ahead) */
    guint64 at;         /* where the element (or item) being read begins */
    guint n_at;         /* n_elems before it */
    Frame stack[DFS_LIMIT_DEPTH + 1];
    guint depth;        /* index of the top frame */
} Parser;

/* --- small helpers -------------------------------------------------------- */

static gboolean fail(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static gboolean fail(GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, DFS_ERROR, code, msg);
    g_free(msg);
    return FALSE;
}

G_NO_INLINE static gboolean need_more(Parser *p, guint64 n, GError **error)
{
    if (!dfs_input_ensure(p->src, p->pos + n, error))
        return FALSE;
    p->data = dfs_input_data(p->src);
    return TRUE;
}

/* n more bytes at pos, loading them if needed.  Inlined: it runs twice for
 * every element, and the bytes are almost always there already. */
static inline gboolean need(Parser *p, guint64 n, GError **error)
{
    if (G_LIKELY(p->pos + n <= dfs_input_len(p->src)))
        return TRUE;
    return need_more(p, n, error);
}

static guint16 rd16(const guint8 *b, gboolean big)
{
    return big ? (guint16)(b[0] << 8 | b[1]) : (guint16)(b[1] << 8 | b[0]);
}

static guint32 rd32(const guint8 *b, gboolean big)
{
    return big ? (guint32)b[0] << 24 | (guint32)b[1] << 16 | (guint32)b[2] << 8 | b[3]
               : (guint32)b[3] << 24 | (guint32)b[2] << 16 | (guint32)b[1] << 8 | b[0];
}

static guint32 rdtag(const guint8 *b, gboolean big)
{
    return (guint32)rd16(b, big) << 16 | rd16(b + 2, big);
}

#define TAG_GROUP(t) ((guint16)((t) >> 16))
#define TAG_ELEM(t) ((guint16)((t)&0xffff))
#define TAG_ARGS(t) TAG_GROUP(t), TAG_ELEM(t)
#define TAG_FMT "(%04X,%04X)"

static gboolean is_private_creator(guint32 tag)
{
    return (TAG_GROUP(tag) & 1) && TAG_ELEM(tag) >= 0x10 && TAG_ELEM(tag) <= 0xff;
}

static gboolean is_private_data(guint32 tag)
{
    return (TAG_GROUP(tag) & 1) && TAG_ELEM(tag) >= 0x1000;
}

/* --- element storage ------------------------------------------------------ */

static guint append(Parser *p, guint32 tag, DfsVr vr, guint8 flags, guint32 len, guint64 off,
                    GError **error)
{
    if (p->n_elems >= DFS_LIMIT_ELEMENTS) {
        fail(error, DFS_ERROR_LIMIT, "more than %u elements", DFS_LIMIT_ELEMENTS);
        return DFS_NO_INDEX;
    }
    /* Grow in doubling steps and write in place: appending one by one
     * through GArray costs a call and a copy per element. */
    DfsDataset *ds = p->ds;
    if (p->n_elems == ds->elems_room) {
        guint room = MAX(ds->elems_room * 2, 64u);
        ds->elems = dfs_scratch_grow(DFS_SCRATCH_ELEMS, ds->elems, &ds->elems_scratch,
                                     p->n_elems * sizeof(DfsElement), room * sizeof(DfsElement));
        ds->elems_room = room;
    }
    const Frame *f = &p->stack[p->depth];
    DfsElement *e = &ds->elems[p->n_elems];
    e->tag = tag;
    e->vr = (guint8)vr;
    e->flags = flags;
    e->depth = (guint16)p->depth;
    e->length = len;
    e->offset = off;
    e->end = p->n_elems + 1;
    e->parent = f->elem; /* the root frame's elem is DFS_ROOT */
    ds->n_elems = p->n_elems + 1;
    return p->n_elems++;
}

/* The offset of the creator text reserving private element tag, or
 * DFS_NO_INDEX. */
static guint32 find_creator(const Frame *f, guint32 tag)
{
    if (f->creator_group != TAG_GROUP(tag))
        return DFS_NO_INDEX;
    for (guint k = 0; k < f->n_creators; k++)
        if (f->creator_block[k] == TAG_ELEM(tag) >> 8)
            return f->creator_text[k];
    return DFS_NO_INDEX;
}

/* Keep the trimmed value of creator element idx; returns its offset. */
static guint32 keep_creator_text(Parser *p, guint idx)
{
    const DfsElement *e = &p->ds->elems[idx];
    const char *v = (const char *)p->data + e->offset;
    gsize n = MIN(e->length, 64u), s = 0;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\0'))
        n--;
    while (s < n && v[s] == ' ')
        s++;
    if (p->ds->creator_text == NULL)
        p->ds->creator_text = g_string_new(NULL);
    GString *text = p->ds->creator_text;
    guint32 off = (guint32)text->len;
    g_string_append_len(text, v + s, (gssize)(n - s));
    g_string_append_c(text, '\0');
    return off;
}

/* Remember a Private Creator, and link private data elements to theirs. */
static void track_private(Parser *p, guint idx, guint32 tag)
{
    Frame *f = &p->stack[p->depth];
    DfsDataset *ds = p->ds;
    const DfsElement *e = &ds->elems[idx];
    /* A creator is a loaded text value (PS3.5 7.8.1: LO); anything else in
     * its place reserves nothing. */
    if (is_private_creator(tag) && e->vr != DFS_VR_SQ && !(e->flags & DFS_ELEM_ENCAPSULATED) &&
        e->offset + e->length <= dfs_input_len(p->src)) {
        if (f->creator_group != TAG_GROUP(tag)) {
            f->creator_group = TAG_GROUP(tag);
            f->n_creators = 0;
        }
        if (f->n_creators < MAX_CREATORS) {
            f->creator_block[f->n_creators] = (guint8)TAG_ELEM(tag);
            f->creator_text[f->n_creators++] = keep_creator_text(p, idx);
        }
        return;
    }
    if (!is_private_data(tag))
        return;
    guint32 creator = find_creator(f, tag);
    if (ds->creators == NULL)
        ds->creators = g_array_sized_new(FALSE, FALSE, sizeof(guint32), p->n_elems + 64);
    dfs_dataset_pad_creators(ds, idx);
    g_array_append_val(ds->creators, creator);
}

/* --- VR for implicit encoding --------------------------------------------- */

static DfsVr resolve_ambiguous(Parser *p, const DfsDictEntry *d)
{
    if (d->vr_alt == DFS_VR_NONE)
        return (DfsVr)d->vr;
    /* PS3.5 A.1: Pixel Data and friends are OW in implicit VR. */
    if (d->vr == DFS_VR_OB && d->vr_alt == DFS_VR_OW)
        return DFS_VR_OW;
    /* "US or SS": signed when Pixel Representation says so (PS3.3 C.7.6.3). */
    if (d->vr == DFS_VR_US && d->vr_alt == DFS_VR_SS)
        return p->pixel_rep == 1 ? DFS_VR_SS : DFS_VR_US;
    return (DfsVr)d->vr;
}

static DfsVr implicit_vr(Parser *p, guint32 tag)
{
    if (TAG_GROUP(tag) == 0xFFFE)
        return DFS_VR_NONE;
    if (is_private_data(tag)) {
        guint32 c = find_creator(&p->stack[p->depth], tag);
        if (c == DFS_NO_INDEX)
            return DFS_VR_UN;
        const DfsDictEntry *d = dfs_dict_lookup_private(p->ds->creator_text->str + c, tag);
        return d != NULL && d->vr != DFS_VR_NONE ? resolve_ambiguous(p, d) : DFS_VR_UN;
    }
    const DfsDictEntry *d = dfs_dict_lookup(tag);
    if (d == NULL || d->vr == DFS_VR_NONE)
        return DFS_VR_UN;
    return resolve_ambiguous(p, d);
}

/* --- frames --------------------------------------------------------------- */

static gboolean push(Parser *p, FrameKind kind, guint32 elem, guint64 end, gboolean implicit,
                     GError **error)
{
    if (p->depth + 1 >= G_N_ELEMENTS(p->stack))
        return fail(error, DFS_ERROR_LIMIT, "sequences nested deeper than %d at byte %" G_GUINT64_FORMAT,
                    DFS_LIMIT_DEPTH / 2, p->pos);
    Frame *top = &p->stack[p->depth];
    Frame *f = &p->stack[++p->depth];
    f->elem = elem;
    f->end = end;
    f->kind = kind;
    f->implicit = implicit;
    f->big = top->big;
    f->creator_group = 0;
    f->n_creators = 0;
    if (implicit && !top->implicit)
        f->big = FALSE; /* PS3.5 6.2.2: UN sequences are Implicit VR Little Endian */
    return TRUE;
}

static void pop(Parser *p)
{
    Frame *f = &p->stack[p->depth];
    DfsElement *e = &p->ds->elems[f->elem];
    e->end = p->n_elems;
    if (e->flags & DFS_ELEM_UNDEFINED)
        e->length = (guint32)MIN(p->pos - e->offset, (guint64)G_MAXUINT32 - 1);
    p->depth--;
}

/* The end offset of content of length len at pos, checked against the
 * enclosing frames and the stream (when its size is known). */
static gboolean content_end(Parser *p, guint32 len, gboolean container, guint64 *end,
                            GError **error)
{
    if (len == DFS_UNDEFINED_LENGTH) {
        *end = UNDEF_END;
        return TRUE;
    }
    guint64 e = p->pos + len;
    guint64 size = dfs_input_size_bound(p->src);
    /* A sequence or item whose length overshoots the end of the file is read
     * to the end, as DCMTK does: what it holds is still checked element by
     * element, and only a value cut short is an error. */
    if (container && size != G_MAXUINT64 && e > size && dfs_input_size(p->src) == size)
        e = size;
    if (size != G_MAXUINT64 && e > size && dfs_input_size(p->src) != size)
        return fail(error, DFS_ERROR_LIMIT,
                    "length %u at byte %" G_GUINT64_FORMAT " goes past the %" G_GUINT64_FORMAT
                    " bytes a deflated data set may inflate to", len, p->pos, size);
    if (size != G_MAXUINT64 && e > size)
        return fail(error, DFS_ERROR_TRUNCATED,
                    "length %u at byte %" G_GUINT64_FORMAT " runs past the end (%" G_GUINT64_FORMAT " bytes)",
                    len, p->pos, size);
    for (guint d = p->depth; d > 0; d--)
        if (p->stack[d].end != UNDEF_END && e > p->stack[d].end)
            return fail(error, DFS_ERROR_MALFORMED,
                        "length %u at byte %" G_GUINT64_FORMAT " runs past its enclosing item", len,
                        p->pos);
    *end = e;
    return TRUE;
}

/* --- encapsulated pixel data (PS3.5 A.4) ---------------------------------- */

static gboolean read_fragments(Parser *p, guint idx, gboolean keep, GError **error)
{
    gboolean big = p->stack[p->depth].big;
    for (;;) {
        if (!need(p, 8, error))
            return FALSE;
        guint32 tag = rdtag(p->data + p->pos, big);
        guint32 len = rd32(p->data + p->pos + 4, big);
        p->pos += 8;
        if (tag == DFS_TAG_SEQUENCE_DELIMITATION)
            break;
        if (tag != DFS_TAG_ITEM || len == DFS_UNDEFINED_LENGTH)
            return fail(error, DFS_ERROR_MALFORMED,
                        "pixel data fragment " TAG_FMT " at byte %" G_GUINT64_FORMAT
                        " is not an item of defined length",
                        TAG_ARGS(tag), p->pos - 8);
        guint64 end;
        if (!content_end(p, len, FALSE, &end, error) || !need(p, len, error))
            return FALSE;
        if (keep) {
            DfsFragment fr = {.offset = p->pos, .length = len};
            if (p->ds->fragments == NULL)
                p->ds->fragments = g_array_new(FALSE, FALSE, sizeof(DfsFragment));
            g_array_append_val(p->ds->fragments, fr);
        }
        p->pos = end;
    }
    DfsElement *e = &p->ds->elems[idx];
    e->length = (guint32)MIN(p->pos - e->offset, (guint64)G_MAXUINT32 - 1);
    return TRUE;
}

/* --- one element ---------------------------------------------------------- */

typedef struct {
    guint32 tag;
    DfsVr vr;
    guint32 len;
    gboolean implicit_vr; /* VR came from the dictionary */
} Header;

/* Read an element header at pos (PS3.5 7.1.1-7.1.3). */
static gboolean read_header(Parser *p, Header *h, GError **error)
{
    Frame *f = &p->stack[p->depth];
    if (!need(p, 8, error))
        return FALSE;
    const guint8 *b = p->data + p->pos;
    h->tag = rdtag(b, f->big);
    if (f->implicit || TAG_GROUP(h->tag) == 0xFFFE) {
        h->len = rd32(b + 4, f->big);
        h->vr = implicit_vr(p, h->tag);
        h->implicit_vr = TAG_GROUP(h->tag) != 0xFFFE;
        p->pos += 8;
        return TRUE;
    }
    h->implicit_vr = FALSE;
    h->vr = dfs_vr_from_bytes(b[4], b[5]);
    if (h->vr == DFS_VR_NONE)
        return fail(error, DFS_ERROR_MALFORMED,
                    "element " TAG_FMT " at byte %" G_GUINT64_FORMAT " has no valid VR (0x%02x 0x%02x)",
                    TAG_ARGS(h->tag), p->pos, b[4], b[5]);
    if (dfs_vr_has_long_length(h->vr)) {
        if (!need(p, 12, error))
            return FALSE;
        h->len = rd32(p->data + p->pos + 8, f->big);
        p->pos += 12;
    } else {
        h->len = rd16(b + 6, f->big);
        p->pos += 8;
    }
    return TRUE;
}

/* Sequence-like content: push a frame.  Returns FALSE on error. */
static gboolean begin_sequence(Parser *p, guint idx, const Header *h, gboolean implicit,
                               GError **error)
{
    guint64 end;
    if (!content_end(p, h->len, TRUE, &end, error))
        return FALSE;
    return push(p, FRAME_SEQ, idx, end, implicit, error);
}

static guint8 elem_flags(const Parser *p, const Header *h)
{
    const Frame *f = &p->stack[p->depth];
    guint8 fl = 0;
    if (f->big)
        fl |= DFS_ELEM_BIG_ENDIAN;
    if (h->len == DFS_UNDEFINED_LENGTH)
        fl |= DFS_ELEM_UNDEFINED;
    if (h->implicit_vr)
        fl |= DFS_ELEM_IMPLICIT;
    if (p->meta_only)
        fl |= DFS_ELEM_META;
    return fl;
}

static gboolean read_value(Parser *p, guint idx, const Header *h, GError **error)
{
    guint64 end;
    if (!content_end(p, h->len, FALSE, &end, error) || !need(p, h->len, error))
        return FALSE;
    if (h->tag == DFS_TAG_PIXEL_REPRESENTATION && p->depth == 0 && h->len >= 2)
        p->pixel_rep = rd16(p->data + p->pos, p->stack[0].big);
    p->pos = end;
    (void)idx;
    return TRUE;
}

static gboolean read_element(Parser *p, GError **error)
{
    Header h = {0};
    guint64 start = p->pos;
    if (!read_header(p, &h, error))
        return FALSE;
    Frame *f = &p->stack[p->depth];
    gboolean top = p->depth == 0;
    if (TAG_GROUP(h.tag) == 0xFFFE) {
        /* A stray sequence delimiter at the top level is harmless and some
         * writers leave one; an item outside a sequence is not. */
        if (top && h.tag == DFS_TAG_SEQUENCE_DELIMITATION && h.len == 0)
            return TRUE;
        return fail(error, DFS_ERROR_MALFORMED, TAG_FMT " at byte %" G_GUINT64_FORMAT
                    " is outside a sequence", TAG_ARGS(h.tag), start);
    }
    /* Eight zero bytes after the data set's first elements are padding, not
     * a (0000,0000) of length 0: explicit VR says so by its VR bytes,
     * implicit VR only by the tag going back. */
    if (top && h.tag == 0 && h.len == 0 && p->last_top > 0)
        return fail(error, DFS_ERROR_MALFORMED, "zero bytes at byte %" G_GUINT64_FORMAT, start);
    if (top)
        p->last_top = h.tag;
    if (top && p->header_only && h.tag == DFS_TAG_PIXEL_DATA) {
        /* Not loaded, but a native value must be in the file whole: one cut
         * short is damage the scan should see too. */
        guint64 end;
        if (h.len != DFS_UNDEFINED_LENGTH && !content_end(p, h.len, FALSE, &end, error))
            return FALSE;
        guint idx = append(p, h.tag, h.vr, elem_flags(p, &h) | DFS_ELEM_NOT_LOADED,
                           h.len, p->pos, error);
        p->ds->pixel_data = idx;
        p->done = TRUE;
        return idx != DFS_NO_INDEX;
    }
    gboolean undefined = h.len == DFS_UNDEFINED_LENGTH;
    /* PS3.5 6.2.2: UN of undefined length is an implicit VR LE sequence;
     * implicit VR elements of undefined length are sequences too. */
    gboolean as_sq = h.vr == DFS_VR_SQ || (undefined && h.vr == DFS_VR_UN);
    gboolean encapsulated = undefined && !as_sq &&
                            (h.vr == DFS_VR_OB || h.vr == DFS_VR_OW || h.tag == DFS_TAG_PIXEL_DATA);
    if (undefined && !as_sq && !encapsulated)
        return fail(error, DFS_ERROR_MALFORMED,
                    "element " TAG_FMT " (%s) at byte %" G_GUINT64_FORMAT " has undefined length",
                    TAG_ARGS(h.tag), dfs_vr_name(h.vr), start);
    guint8 flags = elem_flags(p, &h) | (encapsulated ? DFS_ELEM_ENCAPSULATED : 0);
    guint idx = append(p, h.tag, as_sq ? DFS_VR_SQ : h.vr, flags, h.len, p->pos, error);
    if (idx == DFS_NO_INDEX)
        return FALSE;
    if (top && h.tag == DFS_TAG_PIXEL_DATA)
        p->ds->pixel_data = idx;
    if (as_sq) {
        track_private(p, idx, h.tag);
        return begin_sequence(p, idx, &h, f->implicit || h.vr == DFS_VR_UN, error);
    }
    if (encapsulated) {
        track_private(p, idx, h.tag);
        return read_fragments(p, idx, top && h.tag == DFS_TAG_PIXEL_DATA, error);
    }
    /* Track after the value is checked and loaded: a creator's text is
     * read from it. */
    if (!read_value(p, idx, &h, error))
        return FALSE;
    track_private(p, idx, h.tag);
    return TRUE;
}

/* Inside a sequence: an item starts, or the sequence ends (PS3.5 7.5). */
static gboolean read_item(Parser *p, GError **error)
{
    Frame *f = &p->stack[p->depth];
    if (!need(p, 8, error))
        return FALSE;
    guint32 tag = rdtag(p->data + p->pos, f->big);
    guint32 len = rd32(p->data + p->pos + 4, f->big);
    guint64 at = p->pos;
    p->pos += 8;
    if (tag == DFS_TAG_SEQUENCE_DELIMITATION && f->end == UNDEF_END) {
        pop(p);
        return TRUE;
    }
    if (tag != DFS_TAG_ITEM)
        return fail(error, DFS_ERROR_MALFORMED,
                    "expected an item in the sequence at byte %" G_GUINT64_FORMAT ", found " TAG_FMT,
                    at, TAG_ARGS(tag));
    guint8 flags = (f->big ? DFS_ELEM_BIG_ENDIAN : 0) | (len == DFS_UNDEFINED_LENGTH ? DFS_ELEM_UNDEFINED : 0);
    guint idx = append(p, tag, DFS_VR_NONE, flags, len, p->pos, error);
    guint64 end;
    if (idx == DFS_NO_INDEX || !content_end(p, len, TRUE, &end, error))
        return FALSE;
    return push(p, FRAME_ITEM, idx, end, f->implicit, error);
}

/* Close frames whose defined length is used up. */
static gboolean close_frames(Parser *p, GError **error)
{
    while (p->depth > 0 && p->stack[p->depth].end != UNDEF_END &&
           p->pos >= p->stack[p->depth].end) {
        if (p->pos > p->stack[p->depth].end)
            return fail(error, DFS_ERROR_MALFORMED,
                        "an element crosses the end of its item at byte %" G_GUINT64_FORMAT,
                        p->stack[p->depth].end);
        pop(p);
    }
    return TRUE;
}

/* At top level: is there another element?  (Quietly FALSE at the end.) */
static gboolean more_at_top(Parser *p, GError **error, gboolean *failed)
{
    gint64 have = dfs_input_fill(p->src, p->pos + 8, error);
    if (have < 0) {
        *failed = TRUE;
        return FALSE;
    }
    p->data = dfs_input_data(p->src);
    if ((guint64)have == p->pos)
        return FALSE;
    /* Trailing padding shorter than an element header is not an element. */
    if ((guint64)have < p->pos + 8) {
        *failed = TRUE;
        return fail(error, DFS_ERROR_TRUNCATED,
                    "%" G_GUINT64_FORMAT " stray bytes at the end", (guint64)have - p->pos);
    }
    if (p->meta_only && TAG_GROUP(rdtag(p->data + p->pos, FALSE)) != 0x0002)
        return FALSE;
    return TRUE;
}

static gboolean parse(Parser *p, GError **error)
{
    while (!p->done) {
        p->at = p->pos;
        p->n_at = p->n_elems;
        if (!close_frames(p, error))
            return FALSE;
        Frame *f = &p->stack[p->depth];
        if (f->kind == FRAME_SEQ) {
            if (!read_item(p, error))
                return FALSE;
            continue;
        }
        if (f->kind == FRAME_ROOT) {
            gboolean failed = FALSE;
            if (!more_at_top(p, error, &failed))
                return !failed;
        } else {
            if (!need(p, 8, error))
                return FALSE;
            if (rdtag(p->data + p->pos, f->big) == DFS_TAG_ITEM_DELIMITATION) {
                /* Some writers also end defined-length items with a
                 * delimiter; it is redundant there, so it is skipped. */
                p->pos += 8;
                if (f->end == UNDEF_END)
                    pop(p);
                continue;
            }
        }
        if (!read_element(p, error))
            return FALSE;
    }
    return TRUE;
}

/* --- the start of a file (PS3.10 7.1) and its encoding -------------------- */

#define UID_IMPLICIT_LE "1.2.840.10008.1.2"
#define UID_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define UID_EXPLICIT_BE "1.2.840.10008.1.2.2"
#define UID_DEFLATED_LE "1.2.840.10008.1.2.1.99"
#define UID_JPIP_DEFLATE "1.2.840.10008.1.2.4.95"

typedef struct {
    gboolean implicit, big, deflated;
} Encoding;

static Encoding encoding_for(const char *ts)
{
    if (strcmp(ts, UID_IMPLICIT_LE) == 0)
        return (Encoding){TRUE, FALSE, FALSE};
    if (strcmp(ts, UID_EXPLICIT_BE) == 0)
        return (Encoding){FALSE, TRUE, FALSE};
    if (strcmp(ts, UID_DEFLATED_LE) == 0 || strcmp(ts, UID_JPIP_DEFLATE) == 0)
        return (Encoding){FALSE, FALSE, TRUE};
    /* Explicit VR LE, and every encapsulated syntax (PS3.5 A.4). */
    return (Encoding){FALSE, FALSE, FALSE};
}

/* Groups a bare data set plausibly starts with: group length or command
 * group 0000, 0002 when meta is present without "DICM", 0004 (DICOMDIR),
 * 0008 (almost every data set). */
static gboolean plausible_first_group(guint16 g)
{
    return g == 0x0000 || g == 0x0002 || g == 0x0004 || g == 0x0008;
}

/* Encoding of a data set with no usable transfer syntax, from its first
 * element, as DCMTK and pydicom also do.  Without "DICM" the first group
 * must also be plausible; FALSE if the bytes look like no DICOM at all. */
static gboolean detect_encoding(const guint8 *b, gsize n, gboolean magic, Encoding *enc)
{
    if (n < 8)
        return FALSE;
    /* Eight zero bytes (a bare preamble, a file cut inside one) would read
     * as (0000,0000) of length 0 again and again: not a data set. */
    static const guint8 zeros[8] = {0};
    if (!magic && memcmp(b, zeros, 8) == 0)
        return FALSE;
    gboolean vr_ok = dfs_vr_from_bytes(b[4], b[5]) != DFS_VR_NONE;
    *enc = (Encoding){FALSE, FALSE, FALSE};
    if (vr_ok && rd16(b, FALSE) > rd16(b, TRUE) && plausible_first_group(rd16(b, TRUE))) {
        enc->big = TRUE;
        return TRUE;
    }
    if (magic || plausible_first_group(rd16(b, FALSE))) {
        enc->implicit = !vr_ok;
        return TRUE;
    }
    return FALSE;
}

/* Writers sometimes declare one VR encoding and write the other; trust the
 * bytes of the first element when they clearly disagree. */
static void check_encoding(const guint8 *b, gsize n, Encoding *enc)
{
    if (n < 8 || enc->deflated)
        return;
    DfsVr vr = dfs_vr_from_bytes(b[4], b[5]);
    if (!enc->implicit && vr == DFS_VR_NONE && TAG_GROUP(rdtag(b, enc->big)) != 0xFFFE)
        enc->implicit = TRUE;
    else if (enc->implicit && vr != DFS_VR_NONE) {
        const DfsDictEntry *d = dfs_dict_lookup(rdtag(b, FALSE));
        if (d != NULL && d->vr == vr)
            enc->implicit = FALSE;
    }
}

static char *meta_transfer_syntax(DfsDataset *ds)
{
    guint i = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_TRANSFER_SYNTAX_UID);
    gsize len;
    const guint8 *v = i == DFS_NO_INDEX ? NULL : dfs_dataset_value(ds, i, &len);
    if (v == NULL)
        return NULL;
    while (len > 0 && (v[len - 1] == '\0' || v[len - 1] == ' '))
        len--;
    return len > 0 ? g_strndup((const char *)v, len) : NULL;
}

static void set_root(Parser *p, const Encoding *enc)
{
    Frame *f = &p->stack[0];
    f->elem = DFS_ROOT;
    f->end = UNDEF_END;
    f->kind = FRAME_ROOT;
    f->implicit = enc->implicit;
    f->big = enc->big;
    f->creator_group = 0;
    f->n_creators = 0;
}

/* A file that ends where its File Meta Information Group Length says the
 * group goes on was cut inside it. */
static gboolean meta_complete(Parser *p, GError **error)
{
    guint i = dfs_dataset_find(p->ds, DFS_ROOT, DFS_TAG_FILE_META_INFORMATION_GROUP_LENGTH);
    gsize len;
    const guint8 *v = i == DFS_NO_INDEX ? NULL : dfs_dataset_value(p->ds, i, &len);
    if (v == NULL || len != 4)
        return TRUE;
    guint64 end = dfs_dataset_element(p->ds, i)->offset + 4 + rd32(v, FALSE);
    if (end <= p->pos)
        return TRUE;
    gint64 have = dfs_input_fill(p->src, p->pos + 1, error);
    if (have < 0)
        return FALSE;
    p->data = dfs_input_data(p->src);
    if ((guint64)have > p->pos)
        return TRUE; /* a wrong group length, but the file goes on */
    return fail(error, DFS_ERROR_TRUNCATED,
                "file ends at byte %" G_GUINT64_FORMAT " inside the File Meta Information "
                "(its group length says %" G_GUINT64_FORMAT ")", p->pos, end);
}

/* Preamble, "DICM" and the File Meta Information.  Sets *magic. */
static gboolean read_meta(Parser *p, gboolean *magic, GError **error)
{
    gint64 have = dfs_input_fill(p->src, PREAMBLE_LEN + 4 + 8, error);
    if (have < 0)
        return FALSE;
    p->data = dfs_input_data(p->src);
    *magic = TRUE;
    if (have >= PREAMBLE_LEN + 4 && memcmp(p->data + PREAMBLE_LEN, "DICM", 4) == 0) {
        p->pos = PREAMBLE_LEN + 4;
        p->ds->preamble = TRUE;
    } else if (have >= 4 && memcmp(p->data, "DICM", 4) == 0) {
        p->pos = 4;
    } else {
        *magic = FALSE;
        return TRUE;
    }
    if ((guint64)have < p->pos + 8)
        return fail(error, DFS_ERROR_TRUNCATED, "file ends inside the File Meta Information");
    /* Group 0002 is always Explicit VR LE (PS3.10 7.1); a few writers use
     * implicit VR anyway, which the VR bytes reveal. */
    Encoding meta = {dfs_vr_from_bytes(p->data[p->pos + 4], p->data[p->pos + 5]) == DFS_VR_NONE,
                     FALSE, FALSE};
    set_root(p, &meta);
    p->meta_only = TRUE;
    gboolean ok = parse(p, error);
    p->meta_only = FALSE;
    return ok && meta_complete(p, error);
}

static gboolean choose_encoding(Parser *p, gboolean magic, Encoding *enc, GError **error)
{
    gint64 have = dfs_input_fill(p->src, p->pos + 8, error);
    if (have < 0)
        return FALSE;
    p->data = dfs_input_data(p->src);
    gsize n = (gsize)have - p->pos;
    const guint8 *b = n > 0 ? p->data + p->pos : NULL; /* an empty file has no buffer */
    char *ts = meta_transfer_syntax(p->ds);
    if (ts != NULL) {
        *enc = encoding_for(ts);
        check_encoding(b, n, enc);
        p->ds->ts_uid = ts;
        return TRUE;
    }
    if (n == 0 && magic) {
        *enc = (Encoding){FALSE, FALSE, FALSE}; /* meta only, no data set */
    } else if (!detect_encoding(b, n, magic, enc)) {
        return fail(error, DFS_ERROR_NOT_DICOM,
                    magic ? "no transfer syntax and an unrecognisable data set"
                          : "no DICM prefix and no recognisable data set");
    }
    p->ds->ts_uid = g_strdup(enc->implicit ? UID_IMPLICIT_LE
                             : enc->big    ? UID_EXPLICIT_BE
                                           : UID_EXPLICIT_LE);
    return TRUE;
}

/* --- damage ------------------------------------------------------------------ */

/* A value or structure that cannot be trusted, as opposed to a limit, an
 * unreadable file or no DICOM at all. */
static gboolean is_damage(const GError *e)
{
    return e != NULL && e->domain == DFS_ERROR &&
           (e->code == DFS_ERROR_MALFORMED || e->code == DFS_ERROR_TRUNCATED);
}

/* Nothing tells where the next element would begin once one cannot be
 * read (a wrong length shifts everything after it), so the data set ends
 * where that element began: what was read before it is kept, the sequences
 * and items still open are closed there, and the element itself is
 * dropped (DCMTK shows it cut short, which would be a wrong value). */
static void end_at_damage(Parser *p, const GError *why)
{
    DfsDataset *ds = p->ds;
    p->n_elems = p->n_at;
    ds->n_elems = p->n_at;
    if (ds->pixel_data != DFS_NO_INDEX && ds->pixel_data >= p->n_at) {
        ds->pixel_data = DFS_NO_INDEX;
        g_clear_pointer(&ds->fragments, g_array_unref);
    }
    if (ds->creators != NULL && ds->creators->len > p->n_at)
        g_array_set_size(ds->creators, p->n_at);
    for (; p->depth > 0; p->depth--) {
        const Frame *f = &p->stack[p->depth];
        if (f->elem >= p->n_at)
            continue;
        DfsElement *e = &ds->elems[f->elem];
        e->end = p->n_at;
        e->length = (guint32)MIN(p->at - e->offset, (guint64)G_MAXUINT32 - 1);
    }
    static const guint8 zeros[8] = {0};
    gboolean padding = p->at + 8 <= dfs_input_len(p->src) &&
                       memcmp(p->data + p->at, zeros, sizeof zeros) == 0;
    ds->damage_at = p->at;
    ds->damage = g_strdup_printf("%s%s", dfs_input_is_plain(p->src) ? "" : "in the inflated data set: ",
                                 padding ? "zero bytes where an element should begin (padding after "
                                           "the data set)"
                                         : why->message);
    p->pos = p->at;
}

static gboolean read_all(Parser *p, GError **error)
{
    gboolean magic;
    if (!read_meta(p, &magic, error))
        return FALSE;
    Encoding enc;
    if (!choose_encoding(p, magic, &enc, error))
        return FALSE;
    if (enc.deflated && !dfs_input_start_deflate(p->src, p->pos, error))
        return FALSE;
    set_root(p, &enc);
    guint before = p->n_elems;
    GError *why = NULL;
    if (parse(p, &why))
        return TRUE;
    /* Without "DICM", failing on the first element means this is no DICOM
     * file at all, not a damaged one. */
    if (!magic && p->n_elems - before < 2) {
        why->domain = DFS_ERROR;
        why->code = DFS_ERROR_NOT_DICOM;
    }
    /* A damaged file is what could be read of it (without "DICM", two
     * elements at least, so that a file of another kind is not taken for
     * a damaged DICOM one). */
    if (is_damage(why) && p->n_at - before >= (magic ? 1u : 2u)) {
        end_at_damage(p, why);
        g_error_free(why);
        return TRUE;
    }
    g_propagate_error(error, why);
    return FALSE;
}

static DfsDataset *read_source(DfsInput *src, DfsReadFlags flags, GError **error)
{
    DfsDataset *ds = dfs_dataset_new_internal(src);
    /* The frame stack is initialised as frames are pushed, not up front. */
    Parser *p = dfs_scratch_take(DFS_SCRATCH_PARSER, sizeof(Parser));
    memset(p, 0, offsetof(Parser, stack));
    p->depth = 0;
    p->ds = ds;
    p->src = src;
    p->header_only = (flags & DFS_READ_HEADER_ONLY) != 0;
    ds->header_only = p->header_only;
    if (!p->header_only && dfs_input_fill(src, dfs_input_size(src), error) < 0) {
        dfs_scratch_give(DFS_SCRATCH_PARSER, p);
        dfs_dataset_free(ds);
        return NULL;
    }
    gboolean ok = read_all(p, error);
    dfs_scratch_give(DFS_SCRATCH_PARSER, p);
    if (!ok) {
        dfs_dataset_free(ds);
        return NULL;
    }
    dfs_input_finish(src);
    dfs_dataset_seal(ds);
    return ds;
}

DfsDataset *dfs_read_fd(int fd, DfsReadFlags flags, GError **error)
{
    DfsInput *src = dfs_input_new_fd(fd, error);
    if (src == NULL)
        return NULL;
    if (flags & DFS_READ_UNCACHED)
        dfs_input_uncached(src);
    DfsDataset *ds = read_source(src, flags, error);
    if (ds != NULL)
        ds->fd = fd;
    return ds;
}

DfsDataset *dfs_read_loaded(int fd, guint64 size, const guint8 *data, gsize len,
                            gboolean direct, DfsReadFlags flags, GError **error)
{
    DfsInput *src = dfs_input_new_loaded(fd, size, data, len, direct);
    DfsDataset *ds = read_source(src, flags, error);
    if (ds != NULL)
        ds->fd = fd;
    return ds;
}

DfsDataset *dfs_read_file(const char *path, DfsReadFlags flags, GError **error)
{
    int fd = dfs_input_open(path);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot open: %s", g_strerror(err));
        return NULL;
    }
    DfsDataset *ds = dfs_read_fd(fd, flags, error);
    close(fd);
    if (ds != NULL) {
        ds->fd = -1;
        ds->path = g_strdup(path);
    }
    return ds;
}

DfsDataset *dfs_read_bytes(GBytes *bytes, DfsReadFlags flags, GError **error)
{
    return read_source(dfs_input_new_bytes(bytes), flags, error);
}
