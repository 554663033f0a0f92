/* dicomfs core: Specific Character Set (0008,0005) decoding to UTF-8.
 * See charset.h.
 *
 * Model (PS3.5 6.1.2.4, 6.1.2.5): a text is read as an 8-bit ISO/IEC 2022
 * code with G0 invoked in GL (bytes 02/01-07/14) and G1 in GR (10/00-15/15).
 * Value 1 of (0008,0005) gives the initial designations (6.1.2.5.4); escape
 * sequences change them; the delimiters of 6.1.2.5.3 bring them back.  The
 * stand-alone multi-byte sets (ISO_IR 192, GB18030, GBK; PS3.3 C.12.1.1.2
 * Table C.12-5) have no code extensions and are decoded as a whole.
 *
 * Speed: single-byte sets are 128-entry tables built once (g_once); pure
 * ASCII is copied as is.  Only runs of multi-byte characters go through
 * iconv, with descriptors cached per thread (a GIConv holds state and must
 * not be shared between threads). */
#include "dicom/charset.h"

#include <errno.h>
#include <string.h>

#define ESC 0x1B
#define FFFD "\xEF\xBF\xBD" /* U+FFFD REPLACEMENT CHARACTER */

/* --- character sets --------------------------------------------------------- */

/* Every set that can be designated to G0 or G1 (PS3.3 Tables C.12-2 to C.12-4),
 * plus SET_SJIS, which is no designation (see decode_gr). */
typedef enum {
    SET_NONE,     /* nothing designated: every byte is U+FFFD */
    SET_ASCII,    /* ISO-IR 6 */
    SET_ROMAN,    /* ISO-IR 14, JIS X 0201 Romaji */
    SET_KATAKANA, /* ISO-IR 13, JIS X 0201 Katakana */
    /* 96-character sets, right halves of ISO 8859 and TIS 620: tables */
    SET_LATIN1,   /* ISO-IR 100 */
    SET_LATIN2,   /* ISO-IR 101 */
    SET_LATIN3,   /* ISO-IR 109 */
    SET_LATIN4,   /* ISO-IR 110 */
    SET_CYRILLIC, /* ISO-IR 144 */
    SET_ARABIC,   /* ISO-IR 127 */
    SET_GREEK,    /* ISO-IR 126 */
    SET_HEBREW,   /* ISO-IR 138 */
    SET_LATIN5,   /* ISO-IR 148 */
    SET_LATIN9,   /* ISO-IR 203 */
    SET_THAI,     /* ISO-IR 166 */
    /* 94x94 sets: runs re-encoded as EUC and converted by iconv */
    SET_JIS0208, /* ISO-IR 87 (and ISO-IR 42, JIS C 6226-1978) */
    SET_JIS0212, /* ISO-IR 159 */
    SET_KSC,     /* ISO-IR 149, KS X 1001 */
    SET_GB2312,  /* ISO-IR 58 */
    SET_SJIS,    /* Shift_JIS pairs found where G1 is katakana */
} Set;

#define FIRST_TABLE SET_LATIN1
#define N_TABLES (SET_THAI - SET_LATIN1 + 1)

static gboolean is_table(guint8 s)
{
    return s >= FIRST_TABLE && s <= SET_THAI;
}

static gboolean is_dbcs(guint8 s)
{
    return s >= SET_JIS0208 && s <= SET_GB2312;
}

/* iconv names of the tables, indexed by set - FIRST_TABLE. */
static const char *const table_names[N_TABLES] = {
    "ISO-8859-1", "ISO-8859-2", "ISO-8859-3", "ISO-8859-4",  "ISO-8859-5", "ISO-8859-6",
    "ISO-8859-7", "ISO-8859-8", "ISO-8859-9", "ISO-8859-15", "TIS-620",
};

/* How the whole value is decoded. */
typedef enum {
    MODE_2022,    /* single-byte terms and ISO 2022 terms: the state machine */
    MODE_UTF8,    /* ISO_IR 192 */
    MODE_GB18030, /* GB18030 */
    MODE_GBK,     /* GBK */
} Mode;

struct _DfsCharset {
    char *terms;
    gboolean has_unknown;
    guint8 mode;
    guint8 init_g0, init_g1; /* MODE_2022: designations at the start of a value */
};

/* --- defined terms (PS3.3 C.12.1.1.2, Tables C.12-2 to C.12-5) -------------- */

typedef struct {
    const char *term;
    guint8 mode, g0, g1;
} Term;

/* Value 1 decides the initial state (PS3.5 6.1.2.5.4).  The default repertoire
 * has no G1; bytes above 07/15 are then taken as ISO 8859-1, as pydicom and
 * DCMTK do.  JIS X 0208/0212 as value 1 leave ISO-IR 6 in G0, the only way the
 * ASCII delimiters of 6.1.2.5.3 stay readable, and nothing in G1. */
static const Term known_terms[] = {
    {"", MODE_2022, SET_ASCII, SET_LATIN1},
    {"ISO_IR 6", MODE_2022, SET_ASCII, SET_LATIN1},
    {"ISO 2022 IR 6", MODE_2022, SET_ASCII, SET_LATIN1},
    {"ISO_IR 100", MODE_2022, SET_ASCII, SET_LATIN1},
    {"ISO 2022 IR 100", MODE_2022, SET_ASCII, SET_LATIN1},
    {"ISO_IR 101", MODE_2022, SET_ASCII, SET_LATIN2},
    {"ISO 2022 IR 101", MODE_2022, SET_ASCII, SET_LATIN2},
    {"ISO_IR 109", MODE_2022, SET_ASCII, SET_LATIN3},
    {"ISO 2022 IR 109", MODE_2022, SET_ASCII, SET_LATIN3},
    {"ISO_IR 110", MODE_2022, SET_ASCII, SET_LATIN4},
    {"ISO 2022 IR 110", MODE_2022, SET_ASCII, SET_LATIN4},
    {"ISO_IR 144", MODE_2022, SET_ASCII, SET_CYRILLIC},
    {"ISO 2022 IR 144", MODE_2022, SET_ASCII, SET_CYRILLIC},
    {"ISO_IR 127", MODE_2022, SET_ASCII, SET_ARABIC},
    {"ISO 2022 IR 127", MODE_2022, SET_ASCII, SET_ARABIC},
    {"ISO_IR 126", MODE_2022, SET_ASCII, SET_GREEK},
    {"ISO 2022 IR 126", MODE_2022, SET_ASCII, SET_GREEK},
    {"ISO_IR 138", MODE_2022, SET_ASCII, SET_HEBREW},
    {"ISO 2022 IR 138", MODE_2022, SET_ASCII, SET_HEBREW},
    {"ISO_IR 148", MODE_2022, SET_ASCII, SET_LATIN5},
    {"ISO 2022 IR 148", MODE_2022, SET_ASCII, SET_LATIN5},
    {"ISO_IR 203", MODE_2022, SET_ASCII, SET_LATIN9},
    {"ISO 2022 IR 203", MODE_2022, SET_ASCII, SET_LATIN9},
    {"ISO_IR 166", MODE_2022, SET_ASCII, SET_THAI},
    {"ISO 2022 IR 166", MODE_2022, SET_ASCII, SET_THAI},
    {"ISO_IR 13", MODE_2022, SET_ROMAN, SET_KATAKANA},
    {"ISO 2022 IR 13", MODE_2022, SET_ROMAN, SET_KATAKANA},
    {"ISO 2022 IR 87", MODE_2022, SET_ASCII, SET_NONE},
    {"ISO 2022 IR 159", MODE_2022, SET_ASCII, SET_NONE},
    {"ISO 2022 IR 149", MODE_2022, SET_ASCII, SET_KSC},
    {"ISO 2022 IR 58", MODE_2022, SET_ASCII, SET_GB2312},
    {"ISO_IR 192", MODE_UTF8, SET_ASCII, SET_NONE},
    {"GB18030", MODE_GB18030, SET_ASCII, SET_NONE},
    {"GBK", MODE_GBK, SET_ASCII, SET_NONE},
};

static const Term *find_term(const char *s)
{
    for (gsize i = 0; i < G_N_ELEMENTS(known_terms); i++)
        if (strcmp(known_terms[i].term, s) == 0)
            return &known_terms[i];
    return NULL;
}

/* Common misspellings seen in the wild ("ISO IR 100", "ISO-IR 100",
 * "ISO_2022_IR_87", "iso_ir 192", "UTF-8"): the term split into runs of
 * letters and of digits, upper-cased, and rebuilt in the defined spelling.
 * Such a term is still reported as unknown, but decoded as meant. */
static const Term *find_misspelled_term(const char *s)
{
    char tok[5][12];
    int n = 0;
    for (const char *p = s; *p && n < 5;) {
        if (!g_ascii_isalnum(*p)) {
            p++;
            continue;
        }
        gboolean digits = g_ascii_isdigit(*p);
        int k = 0;
        while (*p && g_ascii_isalnum(*p) && !!g_ascii_isdigit(*p) == digits && k < 11)
            tok[n][k++] = g_ascii_toupper(*p++);
        tok[n++][k] = '\0';
    }
    char fixed[48] = "";
    if (n == 3 && !strcmp(tok[0], "ISO") && !strcmp(tok[1], "IR"))
        g_snprintf(fixed, sizeof fixed, "ISO_IR %s", tok[2]);
    else if (n == 4 && !strcmp(tok[0], "ISO") && !strcmp(tok[1], "2022") && !strcmp(tok[2], "IR"))
        g_snprintf(fixed, sizeof fixed, "ISO 2022 IR %s", tok[3]);
    else if (n == 3 && !strcmp(tok[0], "ISO") && !strcmp(tok[1], "2022")) /* CP 1234 drafts */
        g_snprintf(fixed, sizeof fixed, strcmp(tok[2], "GBK") ? "ISO 2022 IR %s" : "%s", tok[2]);
    else if (n == 2 && !strcmp(tok[0], "GB") && !strcmp(tok[1], "18030"))
        g_strlcpy(fixed, "GB18030", sizeof fixed);
    else if (n == 1 && !strcmp(tok[0], "GBK"))
        g_strlcpy(fixed, "GBK", sizeof fixed);
    else if (n == 2 && !strcmp(tok[0], "UTF") && !strcmp(tok[1], "8"))
        g_strlcpy(fixed, "ISO_IR 192", sizeof fixed);
    return fixed[0] ? find_term(fixed) : NULL;
}

/* --- parsing (0008,0005) ---------------------------------------------------- */

/* One term of the value, without its padding (PS3.5 6.2: CS may be padded
 * with spaces; some writers pad with NUL). */
static char *term_dup(const guint8 *p, gsize n)
{
    while (n > 0 && (p[0] == ' ' || p[0] == '\0'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
        n--;
    return g_utf8_make_valid((const char *)p, (gssize)n);
}

/* Classify one term; `first` is value 1, which sets the decoding. */
static void add_term(DfsCharset *cs, const char *t, gboolean first)
{
    const Term *k = find_term(t);
    if (k == NULL) {
        if (t[0] == '\0') /* an empty value 2..n is harmless */
            return;
        cs->has_unknown = TRUE;
        k = find_misspelled_term(t);
    }
    if (first && k != NULL) {
        cs->mode = k->mode;
        cs->init_g0 = k->g0;
        cs->init_g1 = k->g1;
    }
}

DfsCharset *dfs_charset_parse(const guint8 *value, gsize len)
{
    DfsCharset *cs = g_new0(DfsCharset, 1);
    cs->mode = MODE_2022; /* unknown value 1: the default repertoire */
    cs->init_g0 = SET_ASCII;
    cs->init_g1 = SET_LATIN1;
    GString *terms = g_string_new(NULL);
    gsize start = 0;
    for (gsize i = 0; value != NULL && i <= len; i++) {
        if (i < len && value[i] != '\\')
            continue;
        char *t = term_dup(value + start, i - start);
        add_term(cs, t, start == 0);
        if (start > 0)
            g_string_append_c(terms, '\\');
        g_string_append(terms, t);
        g_free(t);
        start = i + 1;
    }
    cs->terms = g_string_free(terms, FALSE);
    return cs;
}

void dfs_charset_free(DfsCharset *cs)
{
    if (cs == NULL)
        return;
    g_free(cs->terms);
    g_free(cs);
}

gboolean dfs_charset_has_unknown(const DfsCharset *cs)
{
    return cs != NULL && cs->has_unknown;
}

const char *dfs_charset_terms(const DfsCharset *cs)
{
    return cs != NULL ? cs->terms : "";
}

/* --- iconv, one descriptor per codec and thread ------------------------------ */

typedef enum {
    CODEC_EUC_JP,
    CODEC_EUC_KR,
    CODEC_EUC_CN,
    CODEC_SJIS,
    CODEC_GB18030,
    CODEC_GBK,
    N_CODECS
} Codec;

static const char *const codec_names[N_CODECS] = {
    "EUC-JP", "EUC-KR", "GB2312", "SHIFT_JIS", "GB18030", "GBK",
};

typedef struct {
    GIConv cd[N_CODECS];
    gboolean tried[N_CODECS];
} IconvCache;

static void iconv_cache_free(gpointer p)
{
    IconvCache *c = p;
    for (int i = 0; i < N_CODECS; i++)
        if (c->cd[i] != (GIConv)-1)
            g_iconv_close(c->cd[i]);
    g_free(c);
}

static GPrivate iconv_cache = G_PRIVATE_INIT(iconv_cache_free);

/* This thread's descriptor for `codec`, or (GIConv)-1 if iconv lacks it. */
static GIConv codec_get(Codec codec)
{
    IconvCache *c = g_private_get(&iconv_cache);
    if (c == NULL) {
        c = g_new0(IconvCache, 1);
        for (int i = 0; i < N_CODECS; i++)
            c->cd[i] = (GIConv)-1;
        g_private_set(&iconv_cache, c);
    }
    if (!c->tried[codec]) {
        c->tried[codec] = TRUE;
        c->cd[codec] = g_iconv_open("UTF-8", codec_names[codec]);
    }
    return c->cd[codec];
}

/* Convert `len` bytes, made of characters of at most `unit` bytes, appending
 * UTF-8 to out.  Each byte sequence iconv rejects becomes one U+FFFD and the
 * conversion resumes `unit` bytes further on. */
static void convert(Codec codec, const guint8 *buf, gsize len, gsize unit, GString *out)
{
    GIConv cd = codec_get(codec);
    gchar *in = (gchar *)buf;
    gsize left = len;
    while (left > 0) {
        if (cd == (GIConv)-1) {
            g_string_append(out, FFFD);
            left -= MIN(unit, left);
            continue;
        }
        gchar obuf[1024], *o = obuf;
        gsize oleft = sizeof obuf;
        gsize r = g_iconv(cd, &in, &left, &o, &oleft);
        int err = errno;
        g_string_append_len(out, obuf, o - obuf);
        if (r != (gsize)-1 || err == E2BIG)
            continue;
        /* EILSEQ, or EINVAL for a character cut by the end of the value */
        g_string_append(out, FFFD);
        gsize skip = MIN(unit, left);
        in += skip;
        left -= skip;
        g_iconv(cd, NULL, NULL, NULL, NULL);
    }
}

/* --- single-byte tables ------------------------------------------------------ */

/* The UTF-8 of bytes 08/00-15/15 (all in the BMP, so at most 3 bytes). */
typedef struct {
    guint8 len;
    char s[3];
} Glyph;

static Glyph tables[N_TABLES][128];

static void glyph_set(Glyph *g, gunichar c)
{
    char buf[6];
    int n = g_unichar_to_utf8(c, buf);
    g->len = (guint8)n;
    memcpy(g->s, buf, (gsize)n);
}

/* One table through iconv; bytes it does not define are U+FFFD.  Bytes
 * 08/00-09/15 are the C1 controls in every 8-bit ISO 2022 code, whatever G1
 * holds (glibc's TIS-620 leaves them undefined, Python's tis_620 does not). */
static void table_fill(Glyph *t, const char *name)
{
    GIConv cd = g_iconv_open("UTF-8", name);
    for (int b = 0x80; b < 0x100; b++) {
        Glyph *g = &t[b - 0x80];
        glyph_set(g, b < 0xA0 ? (gunichar)b : 0xFFFD);
        if (cd == (GIConv)-1 || b < 0xA0)
            continue;
        gchar in[1] = {(gchar)b}, out[8];
        gchar *ip = in, *op = out;
        gsize il = 1, ol = sizeof out;
        gsize r = g_iconv(cd, &ip, &il, &op, &ol);
        gsize n = (gsize)(op - out);
        if (r != (gsize)-1 && il == 0 && n > 0 && n <= 3 && g_utf8_validate(out, (gssize)n, NULL)) {
            g->len = (guint8)n;
            memcpy(g->s, out, n);
        }
        g_iconv(cd, NULL, NULL, NULL, NULL);
    }
    if (cd != (GIConv)-1)
        g_iconv_close(cd);
}

static gpointer tables_build(G_GNUC_UNUSED gpointer unused)
{
    /* ISO 8859-1 is the identity on code points: no iconv needed, so the
     * default repertoire works even without gconv modules. */
    for (int b = 0x80; b < 0x100; b++)
        glyph_set(&tables[0][b - 0x80], (gunichar)b);
    for (int i = 1; i < N_TABLES; i++)
        table_fill(tables[i], table_names[i]);
    return tables;
}

static const Glyph *table_get(guint8 set)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, tables_build, NULL);
    return tables[set - FIRST_TABLE];
}

/* --- the ISO 2022 decoder ------------------------------------------------------ */

typedef struct {
    GString *out;
    gboolean pn;
    guint8 g0, g1, init_g0, init_g1;
    /* A pending run of multi-byte characters of one set, re-encoded as EUC
     * (or Shift_JIS) so that one iconv call converts the whole run. */
    guint8 run_set;
    gsize run_len;
    guint8 run[240];
} Decoder;

static void run_flush(Decoder *d)
{
    if (d->run_len == 0)
        return;
    static const guint8 codec_of[] = {
        [SET_JIS0208] = CODEC_EUC_JP, [SET_JIS0212] = CODEC_EUC_JP, [SET_KSC] = CODEC_EUC_KR,
        [SET_GB2312] = CODEC_EUC_CN,  [SET_SJIS] = CODEC_SJIS,
    };
    gsize unit = d->run_set == SET_JIS0212 ? 3 : 2;
    convert((Codec)codec_of[d->run_set], d->run, d->run_len, unit, d->out);
    d->run_len = 0;
}

/* Add one character of `set` (EUC bytes) to the run. */
static void run_add(Decoder *d, guint8 set, const guint8 *bytes, gsize n)
{
    if (d->run_len > 0 && (d->run_set != set || d->run_len + n > sizeof d->run))
        run_flush(d);
    d->run_set = set;
    memcpy(d->run + d->run_len, bytes, n);
    d->run_len += n;
}

/* Characters of a 94x94 set as EUC: both bytes in GR, and the SS3 (08/15)
 * prefix of EUC-JP code set 3 for JIS X 0212. */
static void run_add_dbcs(Decoder *d, guint8 set, guint8 b1, guint8 b2)
{
    guint8 e[3] = {0x8F, b1 | 0x80, b2 | 0x80};
    if (set == SET_JIS0212)
        run_add(d, set, e, 3);
    else
        run_add(d, set, e + 1, 2);
}

static void put(Decoder *d, const char *s, gsize n)
{
    run_flush(d);
    g_string_append_len(d->out, s, (gssize)n);
}

static void put_fffd(Decoder *d)
{
    put(d, FFFD, 3);
}

static void put_unichar(Decoder *d, gunichar c)
{
    run_flush(d);
    g_string_append_unichar(d->out, c);
}

/* PS3.5 6.1.2.5.3: the value 1 designations are active again at these. */
static gboolean is_delimiter(const Decoder *d, guint8 b)
{
    return b == '\\' || (d->pn && (b == '^' || b == '='));
}

static void reset(Decoder *d)
{
    d->g0 = d->init_g0;
    d->g1 = d->init_g1;
}

/* The set a final byte F names (ISO 2022 registry, as used by PS3.3 Tables
 * C.12-3 and C.12-4), for a 94-set (ESC ( F, ESC ) F), a 96-set (ESC - F) or
 * a 94x94 set (ESC $ F, ESC $ ( F, ESC $ ) F).  SET_NONE if unknown. */
static guint8 set_of_final(char kind, guint8 f)
{
    static const char finals96[] = "ABCDLGFHMbT";
    static const guint8 sets96[] = {SET_LATIN1,   SET_LATIN2, SET_LATIN3, SET_LATIN4,
                                    SET_CYRILLIC, SET_ARABIC, SET_GREEK,  SET_HEBREW,
                                    SET_LATIN5,   SET_LATIN9, SET_THAI};
    const char *hit;
    switch (kind) {
    case '1': /* 94-set */
        return f == 'B' ? SET_ASCII : f == 'J' ? SET_ROMAN : f == 'I' ? SET_KATAKANA : SET_NONE;
    case '6': /* 96-set */
        hit = f != 0 ? strchr(finals96, f) : NULL;
        return hit != NULL ? sets96[hit - finals96] : SET_NONE;
    default: /* 94x94 set */
        break;
    }
    switch (f) {
    case '@': /* JIS C 6226-1978 (ISO-IR 42), read as its successor */
    case 'B':
        return SET_JIS0208;
    case 'A':
        return SET_GB2312;
    case 'C':
        return SET_KSC;
    case 'D':
        return SET_JIS0212;
    default:
        return SET_NONE;
    }
}

/* Apply the designation ESC <inter> <f>; FALSE if it is not one we know. */
static gboolean designate(Decoder *d, const guint8 *inter, gsize ni, guint8 f)
{
    guint8 *g = NULL, set = SET_NONE;
    if (ni == 1 && (inter[0] == '(' || inter[0] == ')')) {
        set = set_of_final('1', f);
        g = inter[0] == '(' ? &d->g0 : &d->g1;
    } else if (ni == 1 && inter[0] == '-') {
        set = set_of_final('6', f);
        g = &d->g1;
    } else if (ni == 1 && inter[0] == '$' && f <= 'B') { /* 94x94 to G0, short form */
        set = set_of_final('2', f);
        g = &d->g0;
    } else if (ni == 2 && inter[0] == '$' && (inter[1] == '(' || inter[1] == ')')) {
        set = set_of_final('2', f);
        g = inter[1] == '(' ? &d->g0 : &d->g1;
    }
    if (set == SET_NONE || (set == SET_ASCII && g == &d->g1))
        return FALSE;
    *g = set;
    return TRUE;
}

/* An escape sequence at p[0] (ISO/IEC 2022 13.1: ESC, intermediate bytes
 * 02/00-02/15, one final byte 03/00-07/14).  A complete but unknown sequence
 * becomes one U+FFFD; a lone or cut ESC becomes U+FFFD and the bytes after it
 * are read as text.  Returns the bytes used. */
static gsize decode_escape(Decoder *d, const guint8 *p, gsize n)
{
    gsize i = 1;
    while (i < n && i < 4 && p[i] >= 0x20 && p[i] <= 0x2F)
        i++;
    if (i == 1 || i >= n || p[i] < 0x30 || p[i] > 0x7E) {
        put_fffd(d);
        return 1;
    }
    if (!designate(d, p + 1, i - 1, p[i]))
        put_fffd(d);
    return i + 1;
}

/* Bytes 02/01-07/14, through G0.  Returns the bytes used. */
static gsize decode_gl(Decoder *d, const guint8 *p, gsize n)
{
    guint8 b = p[0];
    if (d->g0 == SET_ASCII || d->g0 == SET_ROMAN) {
        /* ISO-IR 14 differs from ASCII at 05/12 (YEN SIGN) and 07/14
         * (OVERLINE); both are read as ASCII, as pydicom does, since 05/12 is
         * also the value delimiter of PS3.5 6.4. */
        gsize k = 0;
        while (k < n && p[k] >= 0x20 && p[k] < 0x7F && !is_delimiter(d, p[k]))
            k++;
        if (k > 0) {
            put(d, (const char *)p, k);
            return k;
        }
        reset(d);
        put(d, (const char *)p, 1);
        return 1;
    }
    if (d->g0 == SET_KATAKANA) { /* JIS X 0201 katakana in GL (ESC ( I) */
        if (b <= 0x5F)
            put_unichar(d, 0xFF61 + (gunichar)(b - 0x21));
        else
            put_fffd(d);
        return 1;
    }
    /* A 94x94 set: 05/12, 05/14 and 03/13 are bytes of characters here (e.g.
     * "$^" is HIRAGANA LETTER MA in Annex H), never delimiters, unless one
     * stands alone where no character can start: then the writer forgot to
     * return to ISO-IR 6 before it (6.1.2.5.3), and it is taken as one. */
    if (n >= 2 && p[1] > 0x20 && p[1] < 0x7F) {
        run_add_dbcs(d, d->g0, b, p[1]);
        return 2;
    }
    if (is_delimiter(d, b)) {
        reset(d);
        put(d, (const char *)p, 1);
    } else {
        put_fffd(d);
    }
    return 1;
}

static gboolean is_sjis_pair(const guint8 *p, gsize n)
{
    gboolean lead = (p[0] >= 0x81 && p[0] <= 0x9F) || (p[0] >= 0xE0 && p[0] <= 0xFC);
    return lead && n >= 2 && p[1] >= 0x40 && p[1] <= 0xFC && p[1] != 0x7F;
}

/* Bytes 08/00-15/15, through G1.  Returns the bytes used. */
static gsize decode_gr(Decoder *d, const guint8 *p, gsize n)
{
    guint8 b = p[0];
    if (is_table(d->g1)) {
        const Glyph *g = &table_get(d->g1)[b - 0x80];
        put(d, g->s, g->len);
        return 1;
    }
    if (d->g1 == SET_KATAKANA) {
        if (b >= 0xA1 && b <= 0xDF) {
            put_unichar(d, 0xFF61 + (gunichar)(b - 0xA1));
            return 1;
        }
        /* Not JIS X 0201, but common in Japanese files labelled ISO_IR 13:
         * Shift_JIS kanji, whose lead bytes JIS X 0201 leaves unused.
         * pydicom reads ISO_IR 13 as Shift_JIS too. */
        if (is_sjis_pair(p, n)) {
            run_add(d, SET_SJIS, p, 2);
            return 2;
        }
    } else if (is_dbcs(d->g1) && b >= 0xA1 && b <= 0xFE && n >= 2 && p[1] >= 0xA1 && p[1] <= 0xFE) {
        run_add_dbcs(d, d->g1, b, p[1]);
        return 2;
    }
    put_fffd(d);
    return 1;
}

static void decode_2022(const DfsCharset *cs, DfsTextKind kind, const guint8 *p, gsize len,
                        GString *out)
{
    Decoder d = {.out = out, .pn = kind == DFS_TEXT_PN};
    d.init_g0 = cs != NULL ? cs->init_g0 : SET_ASCII;
    d.init_g1 = cs != NULL ? cs->init_g1 : SET_LATIN1;
    reset(&d);
    gsize i = 0;
    while (i < len) {
        guint8 b = p[i];
        if (b == ESC) {
            i += decode_escape(&d, p + i, len - i);
        } else if (b == 0) { /* NUL padding is dropped (value.c relies on it) */
            i++;
        } else if (b < 0x20) { /* CR LF FF TAB and every other C0 control */
            reset(&d);
            put(&d, (const char *)p + i++, 1);
        } else if (b == 0x20 || b == 0x7F) { /* SPACE and DELETE in any G0 */
            put(&d, (const char *)p + i++, 1);
        } else if (b < 0x7F) {
            i += decode_gl(&d, p + i, len - i);
        } else {
            i += decode_gr(&d, p + i, len - i);
        }
    }
    run_flush(&d);
}

/* --- stand-alone multi-byte sets (PS3.3 Table C.12-5) ------------------------ */

/* Length of the maximal subpart of an ill-formed UTF-8 sequence at p
 * (Unicode 15, 3.9 "U+FFFD Substitution of Maximal Subparts"), >= 1. */
static gsize utf8_bad_len(const guint8 *p, gsize n)
{
    guint8 b = p[0], lo = 0x80, hi = 0xBF;
    gsize need;
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else if (b >= 0xE0 && b <= 0xEF)
        need = 2, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4)
        need = 3, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    else
        return 1;
    if (n < 2 || p[1] < lo || p[1] > hi)
        return 1;
    gsize k = 2;
    while (k <= need && k < n && p[k] >= 0x80 && p[k] <= 0xBF)
        k++;
    return k;
}

static void decode_utf8(const guint8 *p, gsize len, GString *out)
{
    gsize i = 0;
    while (i < len) {
        const gchar *end;
        g_utf8_validate_len((const gchar *)p + i, len - i, &end);
        gsize good = (gsize)((const guint8 *)end - (p + i));
        g_string_append_len(out, (const gchar *)p + i, (gssize)good);
        i += good;
        if (i >= len)
            break;
        if (p[i] == 0) {
            i++;
            continue;
        }
        g_string_append(out, FFFD);
        i += utf8_bad_len(p + i, len - i);
    }
}

/* GB18030 and GBK through iconv, NUL bytes dropped. */
static void decode_iconv_whole(Codec codec, const guint8 *p, gsize len, GString *out)
{
    gsize i = 0;
    while (i < len) {
        const guint8 *nul = memchr(p + i, 0, len - i);
        gsize n = nul != NULL ? (gsize)(nul - (p + i)) : len - i;
        convert(codec, p + i, n, 1, out);
        i += n + 1;
    }
}

/* --- entry point --------------------------------------------------------------- */

/* TRUE if every byte reads the same in every mode: no ESC, NUL or byte above
 * 07/15.  Then the value is its own UTF-8 (every initial G0 is ISO-IR 6 or
 * ISO-IR 14, read alike). */
static gboolean is_plain_ascii(const guint8 *p, gsize len)
{
    guint8 acc = 0;
    gboolean special = FALSE;
    for (gsize i = 0; i < len; i++) {
        acc |= p[i];
        special |= p[i] == ESC || p[i] == 0;
    }
    return acc < 0x80 && !special;
}

void dfs_charset_decode(const DfsCharset *cs, DfsTextKind kind, const guint8 *bytes, gsize len,
                        GString *out)
{
    if (bytes == NULL || len == 0)
        return;
    if (is_plain_ascii(bytes, len)) {
        g_string_append_len(out, (const gchar *)bytes, (gssize)len);
        return;
    }
    switch (cs != NULL ? cs->mode : MODE_2022) {
    case MODE_UTF8:
        decode_utf8(bytes, len, out);
        break;
    case MODE_GB18030:
        decode_iconv_whole(CODEC_GB18030, bytes, len, out);
        break;
    case MODE_GBK:
        decode_iconv_whole(CODEC_GBK, bytes, len, out);
        break;
    default:
        decode_2022(cs, kind, bytes, len, out);
        break;
    }
}
